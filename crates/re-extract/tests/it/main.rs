//! Integration tests of re-extract: MeCab mention candidates on real Korean text and their recall on KAIST gold.
//! They need MeCab + mecab-ko-dic (`bash scripts/install-test-deps.sh`) and `../shared/data/kor-re-gold/`.
mod mentions;

//! Tokenizers for checkpoint directories, producing the same ids as Hugging Face `AutoTokenizer`.
//!
//! - `tokenizer.json` is used when present (every "fast" tokenizer has one). Its stored padding/truncation settings are
//!   cleared, because transformers ignores them unless a call asks for padding/truncation.
//! - Otherwise `vocab.txt` (+ optional `tokenizer_config.json` for `do_lower_case`, `strip_accents`,
//!   `tokenize_chinese_chars` and the special tokens) builds the BERT WordPiece pipeline: `BertNormalizer`,
//!   `BertPreTokenizer`, `WordPiece` (`##` continuation, 100 chars per word), `[CLS] $A [SEP]` (pairs
//!   `[CLS] $A [SEP] $B:1 [SEP]:1`). klue/roberta and KoELECTRA ship such a vocabulary.
//! - DeBERTa-v3 checkpoints (e.g. team-lucid/deberta-v3-base-korean) need their `tokenizer.json`. The tokenizers crate
//!   cannot read SentencePiece's `spm.model`; convert once in Python with
//!   `AutoTokenizer.from_pretrained(dir).save_pretrained(dir)` (writes `tokenizer.json`), then load as above.
use crate::error::{ModelError, Result};
use serde_json::Value;
use std::path::Path;
use tokenizers::decoders::wordpiece::WordPiece as WordPieceDecoder;
use tokenizers::models::wordpiece::WordPiece;
use tokenizers::normalizers::bert::BertNormalizer;
use tokenizers::pre_tokenizers::bert::BertPreTokenizer;
use tokenizers::processors::template::TemplateProcessing;
use tokenizers::{AddedToken, Tokenizer};

/// Loads the tokenizer of a checkpoint directory: `tokenizer.json`, else `vocab.txt` (+ `tokenizer_config.json`).
pub fn load_tokenizer(dir: &Path) -> Result<Tokenizer> {
    let json = dir.join("tokenizer.json");
    if json.is_file() {
        let mut tokenizer = Tokenizer::from_file(&json)
            .map_err(|e| ModelError::Tokenizer { path: json.clone(), message: e.to_string() })?;
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(None)
            .map_err(|e| ModelError::Tokenizer { path: json.clone(), message: e.to_string() })?;
        return Ok(tokenizer);
    }
    let vocab = dir.join("vocab.txt");
    if vocab.is_file() {
        let options = WordPieceOptions::from_dir(dir)?;
        return wordpiece_tokenizer(&vocab, &options);
    }
    if dir.join("spm.model").is_file() || dir.join("sentencepiece.bpe.model").is_file() {
        return Err(ModelError::Tokenizer {
            path: dir.into(),
            message:
                "only a SentencePiece model is present; the tokenizers crate cannot read it. Create tokenizer.json \
                      with `AutoTokenizer.from_pretrained(dir).save_pretrained(dir)` in Python"
                    .into(),
        });
    }
    Err(ModelError::Tokenizer { path: dir.into(), message: "neither tokenizer.json nor vocab.txt found".into() })
}

/// Settings of the BERT WordPiece pipeline, as `BertTokenizer` reads them from `tokenizer_config.json`.
#[derive(Debug, Clone, PartialEq)]
pub struct WordPieceOptions {
    /// Lower-case (and, unless `strip_accents` says otherwise, strip accents). HF default: true.
    pub do_lower_case: bool,
    /// `None`: follow `do_lower_case`.
    pub strip_accents: Option<bool>,
    /// Put spaces around CJK ideographs. HF default: true.
    pub tokenize_chinese_chars: bool,
    /// `[UNK]`.
    pub unk_token: String,
    /// `[CLS]`.
    pub cls_token: String,
    /// `[SEP]`.
    pub sep_token: String,
    /// `[PAD]`.
    pub pad_token: String,
    /// `[MASK]`.
    pub mask_token: String,
}

impl Default for WordPieceOptions {
    fn default() -> Self {
        Self {
            do_lower_case: true,
            strip_accents: None,
            tokenize_chinese_chars: true,
            unk_token: "[UNK]".into(),
            cls_token: "[CLS]".into(),
            sep_token: "[SEP]".into(),
            pad_token: "[PAD]".into(),
            mask_token: "[MASK]".into(),
        }
    }
}

impl WordPieceOptions {
    /// Reads `tokenizer_config.json` from `dir` when it exists; HF defaults otherwise.
    pub fn from_dir(dir: &Path) -> Result<Self> {
        let path = dir.join("tokenizer_config.json");
        let mut options = Self::default();
        if !path.is_file() {
            return Ok(options);
        }
        let text = std::fs::read_to_string(&path).map_err(|source| ModelError::Io { path: path.clone(), source })?;
        let config: Value = serde_json::from_str(&text)
            .map_err(|e| ModelError::Config { path: path.clone(), message: e.to_string() })?;
        if let Some(v) = config.get("do_lower_case").and_then(Value::as_bool) {
            options.do_lower_case = v;
        }
        options.strip_accents = config.get("strip_accents").and_then(Value::as_bool);
        if let Some(v) = config.get("tokenize_chinese_chars").and_then(Value::as_bool) {
            options.tokenize_chinese_chars = v;
        }
        // Special tokens are strings or AddedToken objects {"content": ...}.
        let token = |key: &str| {
            config.get(key).and_then(|v| {
                v.as_str().map(str::to_string).or_else(|| v.get("content").and_then(Value::as_str).map(str::to_string))
            })
        };
        for (key, slot) in [
            ("unk_token", &mut options.unk_token),
            ("cls_token", &mut options.cls_token),
            ("sep_token", &mut options.sep_token),
            ("pad_token", &mut options.pad_token),
            ("mask_token", &mut options.mask_token),
        ] {
            if let Some(value) = token(key) {
                *slot = value;
            }
        }
        Ok(options)
    }
}

/// Builds the BERT WordPiece tokenizer (what `BertTokenizerFast` converts a `vocab.txt` into).
pub fn wordpiece_tokenizer(vocab: &Path, options: &WordPieceOptions) -> Result<Tokenizer> {
    let err = |message: String| ModelError::Tokenizer { path: vocab.into(), message };
    let vocab_str = vocab.to_str().ok_or_else(|| err("path is not valid UTF-8".into()))?;
    let model = WordPiece::from_file(vocab_str)
        .unk_token(options.unk_token.clone())
        .continuing_subword_prefix("##".into())
        .max_input_chars_per_word(100)
        .build()
        .map_err(|e| err(e.to_string()))?;
    let mut tokenizer = Tokenizer::new(model);
    let id = |token: &str| {
        tokenizer.token_to_id(token).ok_or_else(|| err(format!("special token {token:?} is not in the vocabulary")))
    };
    let cls_id = id(&options.cls_token)?;
    let sep_id = id(&options.sep_token)?;
    let (cls, sep) = (&options.cls_token, &options.sep_token);
    let post = TemplateProcessing::builder()
        .try_single(format!("{cls}:0 $A:0 {sep}:0"))
        .and_then(|b| b.try_pair(format!("{cls}:0 $A:0 {sep}:0 $B:1 {sep}:1")))
        .map_err(|e| err(e.to_string()))?
        .special_tokens(vec![(cls.clone(), cls_id), (sep.clone(), sep_id)])
        .build()
        .map_err(|e| err(e.to_string()))?;
    tokenizer
        .with_normalizer(Some(BertNormalizer::new(
            true,
            options.tokenize_chinese_chars,
            options.strip_accents,
            options.do_lower_case,
        )))
        .with_pre_tokenizer(Some(BertPreTokenizer))
        .with_post_processor(Some(post))
        .with_decoder(Some(WordPieceDecoder::default()));
    // Special tokens are matched whole in the raw text, as the HF tokenizer does.
    let specials: Vec<AddedToken> =
        [&options.pad_token, &options.unk_token, &options.cls_token, &options.sep_token, &options.mask_token]
            .into_iter()
            .filter(|t| tokenizer.token_to_id(t).is_some())
            .map(|t| AddedToken::from(t.clone(), true))
            .collect();
    tokenizer.add_special_tokens(&specials);
    Ok(tokenizer)
}

/// The padding id of a tokenizer: its padding settings, else the id of `[PAD]`, `<pad>` or `<PAD>`, else 0.
pub fn pad_token_id(tokenizer: &Tokenizer) -> u32 {
    if let Some(padding) = tokenizer.get_padding() {
        return padding.pad_id;
    }
    ["[PAD]", "<pad>", "<PAD>"].iter().find_map(|t| tokenizer.token_to_id(t)).unwrap_or(0)
}

/// A padded batch of token ids, row-major `[batch, seq_len]`, ready for `Tensor::from_data`.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenBatch {
    /// Number of texts.
    pub batch_size: usize,
    /// Longest tokenised text (incl. special tokens).
    pub seq_len: usize,
    /// Token ids, padded with the tokenizer's pad id.
    pub input_ids: Vec<i64>,
    /// 1 for tokens, 0 for padding.
    pub attention_mask: Vec<i64>,
    /// Segment ids (0 for single texts).
    pub token_type_ids: Vec<i64>,
    /// Token count of each text (incl. special tokens).
    pub lengths: Vec<usize>,
}

/// Tokenises `texts` with special tokens, cuts each to `max_length` tokens (keeping the final `[SEP]`, as HF
/// truncation does) and pads to the longest.
pub fn encode_batch(tokenizer: &Tokenizer, texts: &[&str], max_length: Option<usize>) -> Result<TokenBatch> {
    let mut tokenizer = tokenizer.clone();
    if let Some(max_length) = max_length {
        tokenizer
            .with_truncation(Some(tokenizers::TruncationParams { max_length, ..Default::default() }))
            .map_err(|e| ModelError::Tokenizer { path: "<tokenizer>".into(), message: e.to_string() })?;
    }
    let encodings = tokenizer
        .encode_batch(texts.to_vec(), true)
        .map_err(|e| ModelError::Tokenizer { path: "<tokenizer>".into(), message: e.to_string() })?;
    let pad = i64::from(pad_token_id(&tokenizer));
    let lengths: Vec<usize> = encodings.iter().map(|e| e.get_ids().len()).collect();
    let seq_len = lengths.iter().copied().max().unwrap_or(0);
    let mut batch = TokenBatch {
        batch_size: texts.len(),
        seq_len,
        input_ids: Vec::with_capacity(texts.len() * seq_len),
        attention_mask: Vec::with_capacity(texts.len() * seq_len),
        token_type_ids: Vec::with_capacity(texts.len() * seq_len),
        lengths,
    };
    for encoding in &encodings {
        let n = encoding.get_ids().len();
        batch.input_ids.extend(encoding.get_ids().iter().map(|&i| i64::from(i)));
        batch.input_ids.extend(std::iter::repeat_n(pad, seq_len - n));
        batch.attention_mask.extend(std::iter::repeat_n(1, n));
        batch.attention_mask.extend(std::iter::repeat_n(0, seq_len - n));
        batch.token_type_ids.extend(encoding.get_type_ids().iter().map(|&i| i64::from(i)));
        batch.token_type_ids.extend(std::iter::repeat_n(0, seq_len - n));
    }
    Ok(batch)
}

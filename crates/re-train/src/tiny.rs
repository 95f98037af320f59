//! `--model tiny`: everything needed to train without pretrained weights. A WordPiece tokenizer is trained
//! on the training sentences (tokenizers crate) and a small RoBERTa-style encoder is initialised at random.
//! Its default learning rate is [`crate::config::ModelSource::TINY_LR`].
use tokenizers::decoders::wordpiece::WordPiece as WordPieceDecoder;
use tokenizers::models::wordpiece::WordPiece;
use tokenizers::normalizers::bert::BertNormalizer;
use tokenizers::pre_tokenizers::bert::BertPreTokenizer;
use tokenizers::processors::template::TemplateProcessing;
use tokenizers::{AddedToken, Tokenizer};

use re_models::activation::Activation;
use re_models::bert::BertConfig;
use re_models::encoder::EncoderConfig;

use crate::config::TinyConfig;
use crate::error::{Result, TrainError};

/// Special tokens in id order (BERT layout: `[PAD]` = 0).
pub const SPECIAL_TOKENS: [&str; 5] = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];

fn tok_err(e: impl std::fmt::Display) -> TrainError {
    TrainError::Tokenizer(e.to_string())
}

/// Train a BERT-style WordPiece tokenizer (no lower-casing, no accent stripping — stripping accents would
/// decompose Hangul syllables) on `sentences`. The same sentences give the same tokenizer in every process
/// ([`crate::wordpiece`]: the `tokenizers` trainer does not).
pub fn train_wordpiece<S: AsRef<str> + Send + Sync>(sentences: &[S], vocab_size: usize) -> Result<Tokenizer> {
    let normalizer = BertNormalizer::new(true, true, Some(false), false);
    let words = crate::wordpiece::word_counts(sentences, &normalizer, &BertPreTokenizer)?;
    let mut learned = crate::wordpiece::learn_vocabulary(&words, vocab_size.saturating_sub(SPECIAL_TOKENS.len()), 2);
    learned.retain(|t| !SPECIAL_TOKENS.contains(&t.as_str()));
    // Canonical ids: specials first, then the learned pieces in sorted order.
    learned.sort();
    let model = WordPiece::builder().unk_token("[UNK]".into()).build().map_err(tok_err)?;
    let mut tokenizer = Tokenizer::new(model);
    tokenizer.with_normalizer(Some(normalizer));
    tokenizer.with_pre_tokenizer(Some(BertPreTokenizer));
    tokenizer.with_decoder(Some(WordPieceDecoder::default()));
    let vocab: serde_json::Map<String, serde_json::Value> = SPECIAL_TOKENS
        .iter()
        .map(|t| t.to_string())
        .chain(learned)
        .enumerate()
        .map(|(i, t)| (t, serde_json::json!(i)))
        .collect();
    let mut json: serde_json::Value =
        serde_json::from_str(&tokenizer.to_string(false).map_err(tok_err)?).map_err(tok_err)?;
    json["model"]["vocab"] = serde_json::Value::Object(vocab);
    let mut tokenizer: Tokenizer = json.to_string().parse().map_err(tok_err)?;
    let id = |t: &str| tokenizer.token_to_id(t).ok_or_else(|| tok_err(format!("trained vocabulary lacks {t}")));
    let (cls, sep) = (id("[CLS]")?, id("[SEP]")?);
    let post = TemplateProcessing::builder()
        .try_single("[CLS] $A [SEP]")
        .map_err(tok_err)?
        .try_pair("[CLS] $A [SEP] $B:1 [SEP]:1")
        .map_err(tok_err)?
        .special_tokens(vec![("[CLS]".to_string(), cls), ("[SEP]".to_string(), sep)])
        .build()
        .map_err(tok_err)?;
    tokenizer.with_post_processor(Some(post));
    // The specials are whole tokens, never split or normalised (ids already in the vocabulary).
    let specials: Vec<AddedToken> = SPECIAL_TOKENS.iter().map(|t| AddedToken::from(t.to_string(), true)).collect();
    tokenizer.add_special_tokens(&specials);
    Ok(tokenizer)
}

/// The tiny RoBERTa-style encoder's configuration (saved as an HF-style `config.json`, so a tiny run directory
/// loads like any checkpoint directory). `vocab_size` includes added marker tokens.
pub fn tiny_encoder_config(
    tiny: &TinyConfig,
    vocab_size: usize,
    pad_token_id: u32,
    max_length: usize,
) -> EncoderConfig {
    EncoderConfig::Bert(BertConfig {
        model_type: "roberta".into(),
        vocab_size,
        hidden_size: tiny.hidden_size,
        num_hidden_layers: tiny.num_layers,
        num_attention_heads: tiny.num_heads,
        intermediate_size: tiny.intermediate_size,
        hidden_act: Activation::Gelu,
        hidden_dropout_prob: tiny.dropout,
        attention_probs_dropout_prob: tiny.dropout,
        // RoBERTa positions start at pad + 1.
        max_position_embeddings: max_length + pad_token_id as usize + 2,
        type_vocab_size: 1,
        initializer_range: 0.02,
        layer_norm_eps: 1e-5,
        pad_token_id: Some(pad_token_id as usize),
        position_embedding_type: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trains_a_korean_wordpiece_with_bert_specials() {
        let sents: Vec<String> = (0..200)
            .map(|i| format!("삼성전자는 {i}년에 서울에서 설립되었다. 이재용 회장은 삼성전자의 대표이다."))
            .collect();
        let tk = train_wordpiece(&sents, 300).unwrap();
        assert_eq!(tk.token_to_id("[PAD]"), Some(0));
        assert_eq!(tk.token_to_id("[CLS]"), Some(2));
        let enc = tk.encode("삼성전자는 서울에서", true).unwrap();
        let toks = enc.get_tokens();
        assert_eq!(toks.first().map(String::as_str), Some("[CLS]"));
        assert_eq!(toks.last().map(String::as_str), Some("[SEP]"));
        assert!(!toks.iter().any(|t| t == "[UNK]"), "{toks:?}");
        // Same input, same vocabulary.
        let again = train_wordpiece(&sents, 300).unwrap();
        assert_eq!(tk.get_vocab(true), again.get_vocab(true));
    }
}

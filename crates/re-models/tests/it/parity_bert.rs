//! BERT and RoBERTa parity with transformers: tiny random checkpoints from `tools/make_parity_fixtures.py`, loaded
//! from safetensors, pytorch_model.bin, a legacy `.bin` (prefix + gamma/beta + head keys) and fp16/bf16 safetensors.

use crate::common::{check_token_ids, expected, fixture_dir, inputs, max_abs_diff, Case, B, TOLERANCE};
use re_models::encoder::{Encoder, EncoderConfig};
use re_models::hub::{load_encoder, load_tokenizer};

fn check(family: &str, sub: &str, cases: &[Case], use_types: bool) -> f32 {
    let dir = fixture_dir(family).join(sub);
    let (encoder, config, report) = load_encoder::<B>(&dir, &Default::default()).expect("load");
    assert!(matches!(config, EncoderConfig::Bert(_)) && matches!(encoder, Encoder::Bert(_)));
    assert!(report.missing.is_empty(), "{family}/{sub}: left at init {:?}", report.missing);
    let mut worst = 0.0f32;
    for case in cases {
        let (ids, mask, types) = inputs(case);
        let out = encoder.forward(ids, mask, use_types.then_some(types));
        let diff = max_abs_diff(out, case);
        println!("{family}/{sub} {}: max |Δ| = {diff:.3e}", case.name);
        assert!(diff <= TOLERANCE, "{family}/{sub} case {}: max |Δ| {diff} > {TOLERANCE}", case.name);
        worst = worst.max(diff);
    }
    worst
}

#[test]
fn bert_safetensors_matches_transformers() {
    let exp = expected("bert");
    let worst = check("bert", "safetensors", &exp.cases, true);
    println!("bert safetensors worst max |Δ| = {worst:.3e}");
    // BertModel was saved with its pooler: reported as ignored, not an error.
    let (_, _, report) = load_encoder::<B>(&fixture_dir("bert").join("safetensors"), &Default::default()).unwrap();
    assert!(report.unexpected.iter().any(|k| k.starts_with("pooler.")), "{:?}", report.unexpected);
    assert!(report.source_file.ends_with("model.safetensors"));
}

#[test]
fn bert_pytorch_bin_matches_transformers() {
    let exp = expected("bert");
    let worst = check("bert", "bin", &exp.cases, true);
    println!("bert bin worst max |Δ| = {worst:.3e}");
}

#[test]
fn bert_legacy_bin_with_prefix_gamma_beta_and_heads() {
    let exp = expected("bert");
    check("bert", "bin-legacy", &exp.cases, true);
    let (_, _, report) = load_encoder::<B>(&fixture_dir("bert").join("bin-legacy"), &Default::default()).unwrap();
    let mut ignored = report.unexpected.clone();
    ignored.sort();
    assert!(ignored.contains(&"cls.predictions.bias".to_string()), "{ignored:?}");
    assert!(ignored.contains(&"bert.pooler.dense.weight".to_string()), "{ignored:?}");
}

#[test]
fn bert_half_precision_weights() {
    let exp = expected("bert");
    assert!(!exp.cases_fp16.is_empty() && !exp.cases_bf16.is_empty());
    let fp16 = check("bert", "fp16", &exp.cases_fp16, true);
    let bf16 = check("bert", "bf16", &exp.cases_bf16, true);
    println!("bert fp16 max |Δ| = {fp16:.3e}, bf16 max |Δ| = {bf16:.3e}");
}

#[test]
fn roberta_safetensors_and_bin_match_transformers() {
    let exp = expected("roberta");
    assert_eq!(exp.family, "roberta");
    let st = check("roberta", "safetensors", &exp.cases, false);
    let bin = check("roberta", "bin", &exp.cases, false);
    println!("roberta worst max |Δ|: safetensors {st:.3e}, bin {bin:.3e}");
    let (encoder, _, report) = load_encoder::<B>(&fixture_dir("roberta").join("bin"), &Default::default()).unwrap();
    assert!(report.unexpected.iter().any(|k| k.starts_with("lm_head.")), "{:?}", report.unexpected);
    assert_eq!(encoder.hidden_size(), 32);
}

#[test]
fn token_ids_equal_hf_from_tokenizer_json_and_vocab_txt() {
    for family in ["bert", "roberta"] {
        let exp = expected(family);
        for sub in ["safetensors", "bin"] {
            let dir = fixture_dir(family).join(sub);
            let tokenizer = load_tokenizer(&dir).expect("tokenizer");
            check_token_ids(&tokenizer, &exp.cases, &format!("{family}/{sub}"));
        }
    }
}

#[test]
fn wrong_checkpoint_is_a_clear_error() {
    // ELECTRA weights into a BERT module: the error lists missing and unexpected keys and names the file.
    let dir = fixture_dir("electra").join("safetensors");
    let config = re_models::bert::BertConfig {
        vocab_size: 420,
        hidden_size: 32,
        num_hidden_layers: 2,
        num_attention_heads: 4,
        intermediate_size: 37,
        max_position_embeddings: 64,
        ..Default::default()
    };
    let module = config.init::<B>(&Default::default());
    let err = re_models::hub::load_weights(module, &dir, &re_models::bert::key_remap()).unwrap_err();
    let message = err.to_string();
    assert!(message.contains("model.safetensors"), "{message}");
    assert!(message.contains("embeddings_project"), "{message}");
    assert!(message.contains("shape mismatches"), "{message}");
    let missing = re_models::hub::load_weights(
        re_models::bert::BertConfig::default().init::<B>(&Default::default()),
        &fixture_dir("bert").join("nonexistent"),
        &re_models::bert::key_remap(),
    )
    .unwrap_err();
    assert!(matches!(missing, re_models::ModelError::NoWeights { .. }));
}

#[test]
fn resized_embeddings_keep_old_rows() {
    let dir = fixture_dir("bert").join("safetensors");
    let device = Default::default();
    let (encoder, _, _) = load_encoder::<B>(&dir, &device).unwrap();
    let exp = expected("bert");
    let case = &exp.cases[0];
    let resized = encoder.resize_token_embeddings(425, &device);
    let (ids, mask, types) = inputs(case);
    assert!(max_abs_diff(resized.forward(ids, mask, Some(types)), case) <= TOLERANCE);
    let Encoder::Bert(bert) = resized else { panic!("family changed") };
    assert_eq!(bert.vocab_size(), 425);
    let rows: Vec<f32> =
        bert.embeddings.word_embeddings.weight.val().slice([420..425, 0..32]).into_data().to_vec().unwrap();
    let std = (rows.iter().map(|x| x * x).sum::<f32>() / rows.len() as f32).sqrt();
    // new rows ~ N(0, initializer_range = 0.2): the sample std of 160 values lies well within [0.1, 0.3]
    assert!((0.1..0.3).contains(&std), "std {std}");
}

//! DeBERTa-v2/v3 parity with transformers: the tiny random checkpoints of `tools/make_parity_fixtures.py`
//! (`deberta_v2`: separate position projections, c2p+p2c, log buckets 8 / max 16 reached by 26-token inputs, conv layer,
//! absolute positions and token types; `deberta_v3`: shared keys, p2c+c2p, 256 buckets, layer-normed relative
//! embeddings, no absolute positions, `deberta.` prefix and MLM head keys) loaded from `model.safetensors` and
//! `pytorch_model.bin`; max |Δ| of the last hidden state ≤ 1e-4 on single inputs, a padded batch and a sentence pair.

use crate::common::{expected, fixture_dir, inputs, max_abs_diff, Case, B, TOLERANCE};
use re_models::deberta_v2::{self, DebertaV2Config};
use re_models::encoder::{Encoder, EncoderConfig};
use re_models::hub::{load_deberta_v2, load_encoder, load_weights};

/// Runs every case through the checkpoint in `<family>/<sub>` (loaded via the family dispatch) and returns the worst
/// max |Δ|.
fn check(family: &str, sub: &str, cases: &[Case]) -> f32 {
    let dir = fixture_dir(family).join(sub);
    let (encoder, config, report) = load_encoder::<B>(&dir, &Default::default()).expect("load");
    assert!(matches!(config, EncoderConfig::DebertaV2(_)) && matches!(encoder, Encoder::DebertaV2(_)));
    assert!(report.missing.is_empty(), "{family}/{sub}: left at init {:?}", report.missing);
    let mut worst = 0.0f32;
    for case in cases {
        let (ids, mask, types) = inputs(case);
        let out = encoder.forward(ids, mask, Some(types));
        let diff = max_abs_diff(out, case);
        println!("{family}/{sub} {}: max |Δ| = {diff:.3e}", case.name);
        assert!(diff <= TOLERANCE, "{family}/{sub} case {}: max |Δ| {diff} > {TOLERANCE}", case.name);
        worst = worst.max(diff);
    }
    worst
}

#[test]
fn deberta_v2_safetensors_matches_transformers() {
    let exp = expected("deberta_v2");
    assert!(exp.cases.iter().any(|c| c.name == "batch_padded") && exp.cases.iter().any(|c| c.text_pairs.is_some()));
    let worst = check("deberta_v2", "safetensors", &exp.cases);
    println!("deberta_v2 safetensors worst max |Δ| = {worst:.3e}");
}

#[test]
fn deberta_v2_pytorch_bin_matches_transformers() {
    let exp = expected("deberta_v2");
    let worst = check("deberta_v2", "bin", &exp.cases);
    println!("deberta_v2 bin worst max |Δ| = {worst:.3e}");
}

#[test]
fn deberta_v3_safetensors_matches_transformers() {
    let exp = expected("deberta_v3");
    let worst = check("deberta_v3", "safetensors", &exp.cases);
    println!("deberta_v3 safetensors worst max |Δ| = {worst:.3e}");
    // Saved as DebertaV2ForMaskedLM: the MLM head tensors are reported as ignored, not an error.
    let (_, _, report) =
        load_encoder::<B>(&fixture_dir("deberta_v3").join("safetensors"), &Default::default()).unwrap();
    assert!(!report.unexpected.is_empty(), "MLM head keys should be listed as ignored");
    assert!(report.unexpected.iter().all(|k| !k.starts_with("deberta.")), "{:?}", report.unexpected);
}

#[test]
fn deberta_v3_pytorch_bin_matches_transformers() {
    let exp = expected("deberta_v3");
    let worst = check("deberta_v3", "bin", &exp.cases);
    println!("deberta_v3 bin worst max |Δ| = {worst:.3e}");
}

#[test]
fn configs_are_read_as_configured() {
    let v2 = DebertaV2Config::from_file(&fixture_dir("deberta_v2").join("safetensors/config.json")).unwrap();
    assert!(v2.relative_attention && !v2.share_att_key && v2.position_biased_input);
    assert_eq!((v2.position_buckets, v2.max_relative_span(), v2.attention_span()), (8, 16, 8));
    assert_eq!((v2.conv_kernel_size, v2.conv_act.as_str(), v2.type_vocab_size), (3, "gelu", 2));
    assert!(v2.uses_c2p() && v2.uses_p2c() && !v2.norm_rel_embeddings());
    let v3 = DebertaV2Config::from_file(&fixture_dir("deberta_v3").join("safetensors/config.json")).unwrap();
    assert!(v3.share_att_key && !v3.position_biased_input && v3.norm_rel_embeddings());
    assert_eq!((v3.attention_span(), v3.type_vocab_size, v3.conv_kernel_size), (256, 0, 0));

    // The v2 module has exactly the optional parts its config asks for.
    let (model, _) = load_deberta_v2::<B>(&fixture_dir("deberta_v2").join("safetensors"), &Default::default()).unwrap();
    let attention = &model.encoder.layers[0].attention.self_attention;
    assert!(attention.pos_key_proj.is_some() && attention.pos_query_proj.is_some());
    assert!(model.encoder.conv.is_some() && model.encoder.layer_norm.is_none());
    assert!(model.embeddings.position_embeddings.is_some() && model.embeddings.token_type_embeddings.is_some());
    assert_eq!(model.encoder.rel_embeddings.as_ref().map(|e| e.weight.dims()), Some([16, 32]));
    let (model, _) = load_deberta_v2::<B>(&fixture_dir("deberta_v3").join("bin"), &Default::default()).unwrap();
    let attention = &model.encoder.layers[0].attention.self_attention;
    assert!(attention.pos_key_proj.is_none() && attention.pos_query_proj.is_none());
    assert!(model.encoder.conv.is_none() && model.encoder.layer_norm.is_some());
    assert!(model.embeddings.position_embeddings.is_none() && model.embeddings.token_type_embeddings.is_none());
    assert_eq!(model.hidden_size(), 32);
}

#[test]
fn mismatched_config_is_a_clear_error() {
    // v2 weights into a v3-shaped module: the separate position projections are unexpected, the relative
    // LayerNorm is missing.
    let v3_config = DebertaV2Config::from_file(&fixture_dir("deberta_v3").join("bin/config.json")).unwrap();
    let module = DebertaV2Config { vocab_size: 420, type_vocab_size: 2, ..v3_config }.init::<B>(&Default::default());
    let err = load_weights(module, &fixture_dir("deberta_v2").join("safetensors"), &deberta_v2::key_remap())
        .err()
        .expect("v2 weights must not load into a v3 module")
        .to_string();
    assert!(err.contains("pos_key_proj"), "{err}");
    assert!(err.contains("encoder.layer_norm"), "{err}");
}

#[test]
fn resized_embeddings_keep_old_rows_and_output() {
    let dir = fixture_dir("deberta_v3").join("safetensors");
    let (model, _) = load_deberta_v2::<B>(&dir, &Default::default()).unwrap();
    let before = model.embeddings.word_embeddings.weight.val();
    let model = model.resize_token_embeddings(424, &Default::default());
    assert_eq!(model.config().vocab_size, 424);
    let after = model.embeddings.word_embeddings.weight.val();
    assert_eq!(after.dims(), [424, 32]);
    let kept: Vec<f32> = after.clone().narrow(0, 0, 420).into_data().to_vec().unwrap();
    let old: Vec<f32> = before.into_data().to_vec().unwrap();
    assert_eq!(kept, old);
    let new_rows: Vec<f32> = after.narrow(0, 420, 4).into_data().to_vec().unwrap();
    assert!(new_rows.iter().any(|v| *v != 0.0) && new_rows.iter().all(|v| v.abs() < 0.2 * 6.0));
    // Old ids still give the reference output.
    let exp = expected("deberta_v3");
    let case = &exp.cases[0];
    let (ids, mask, _) = inputs(case);
    assert!(max_abs_diff(model.forward(ids, mask, None), case) <= TOLERANCE);
}

//! The fused engine (`re_models::fused`) against transformers' outputs (the parity fixtures of
//! `tools/make_parity_fixtures.py`) and against the burn modules it is built from, including real MiniLM weights
//! on a padded batch, directly and through `re_models::inference::InferenceEncoder`.

use crate::common::{expected, fixture_dir, B, TOLERANCE};
use re_models::fused::FusedEngine;
use re_models::hub::load_encoder;
use re_models::inference::{InferenceEncoder, InferenceEngine, PaddedIds};
use re_models::int8::ActivationPrecision;

fn engine_vs_transformers(family: &str, use_types: bool) -> f32 {
    let dir = fixture_dir(family).join("safetensors");
    let (encoder, config, _) = load_encoder::<B>(&dir, &Default::default()).expect("load");
    let engine = FusedEngine::from_encoder(&encoder, &config).expect("copy weights").expect("BERT-family encoder");
    let mut worst = 0.0f32;
    for case in &expected(family).cases {
        let (batch, seq) = (case.input_ids.len(), case.input_ids[0].len());
        let flat = |rows: &[Vec<i64>]| rows.iter().flatten().copied().collect::<Vec<_>>();
        let types = flat(&case.token_type_ids);
        let out = engine
            .forward(
                &flat(&case.input_ids),
                &flat(&case.attention_mask),
                use_types.then_some(types.as_slice()),
                batch,
                seq,
            )
            .expect("forward");
        assert_eq!(out.len(), case.last_hidden_state.len(), "{family} {}", case.name);
        let diff = out.iter().zip(&case.last_hidden_state).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
        println!("fused engine {family} {}: max |Δ| = {diff:.3e}", case.name);
        assert!(diff <= TOLERANCE, "{family} case {}: max |Δ| {diff} > {TOLERANCE}", case.name);
        worst = worst.max(diff);
    }
    worst
}

#[test]
fn bert_engine_matches_transformers() {
    println!("bert worst {:.3e}", engine_vs_transformers("bert", true));
}

#[test]
fn roberta_engine_matches_transformers() {
    println!("roberta worst {:.3e}", engine_vs_transformers("roberta", false));
}

#[test]
fn electra_engine_with_embedding_projection_matches_transformers() {
    println!("electra worst {:.3e}", engine_vs_transformers("electra", true));
}

#[test]
fn deberta_v3_engine_matches_transformers() {
    println!("deberta_v3 worst {:.3e}", engine_vs_transformers("deberta_v3", false));
}

#[test]
fn deberta_v2_with_a_convolution_layer_is_left_to_burn() {
    let dir = fixture_dir("deberta_v2").join("safetensors");
    let (encoder, config, _) = load_encoder::<B>(&dir, &Default::default()).expect("load");
    assert!(FusedEngine::from_encoder(&encoder, &config).expect("no error").is_none());
    let encoder = InferenceEncoder::new(encoder, &config, InferenceEngine::Fused).expect("falls back");
    assert_eq!(encoder.engine(), InferenceEngine::Burn);
}

/// DeBERTa variants the v3 fixture does not exercise, randomly initialised, against the burn module on a padded
/// batch with token types: own position projections (v2), absolute positions, an embedding projection, c2p or
/// p2c alone, unbucketed distances, no relative attention.
#[test]
fn deberta_variants_match_burn() {
    use burn::tensor::{Int, Tensor, TensorData};
    use re_models::deberta_v2::DebertaV2Config;
    use re_models::encoder::{Encoder, EncoderConfig};
    let base = DebertaV2Config {
        vocab_size: 120,
        hidden_size: 32,
        num_hidden_layers: 2,
        num_attention_heads: 4,
        intermediate_size: 37,
        max_position_embeddings: 64,
        type_vocab_size: 0,
        initializer_range: 0.2,
        position_biased_input: false,
        share_att_key: true,
        position_buckets: 256,
        max_relative_positions: -1,
        conv_kernel_size: 0,
        pos_att_type: vec!["p2c".into(), "c2p".into()],
        ..DebertaV2Config::default()
    };
    let variants = [
        (
            "v2: own position projections, absolute positions, token types, embedding projection, 8 buckets",
            DebertaV2Config {
                share_att_key: false,
                position_biased_input: true,
                type_vocab_size: 2,
                embedding_size: Some(24),
                position_buckets: 8,
                max_relative_positions: 16,
                ..base.clone()
            },
        ),
        (
            "c2p only, unbucketed distances",
            DebertaV2Config {
                pos_att_type: vec!["c2p".into()],
                position_buckets: 0,
                max_relative_positions: 6,
                ..base.clone()
            },
        ),
        ("p2c only", DebertaV2Config { pos_att_type: vec!["p2c".into()], ..base.clone() }),
        ("no relative attention", DebertaV2Config { relative_attention: false, ..base.clone() }),
    ];
    let (batch, seq) = (3usize, 21usize);
    let mut ids = vec![0i64; batch * seq];
    let mut mask = vec![0i64; batch * seq];
    let mut types = vec![0i64; batch * seq];
    for b in 0..batch {
        for j in 0..seq - 7 * b {
            ids[b * seq + j] = 1 + ((b * 31 + j * 17) % 119) as i64;
            mask[b * seq + j] = 1;
            types[b * seq + j] = i64::from(j > 9);
        }
    }
    let device = Default::default();
    let t = |v: &[i64]| Tensor::<B, 2, Int>::from_data(TensorData::new(v.to_vec(), [batch, seq]), &device);
    for (name, config) in variants {
        let with_types = config.type_vocab_size > 0;
        let encoder = Encoder::DebertaV2(config.init::<B>(&device));
        let config = EncoderConfig::DebertaV2(config);
        let engine = FusedEngine::from_encoder(&encoder, &config).expect("copy").expect("covered without conv");
        let fast = engine.forward(&ids, &mask, with_types.then_some(types.as_slice()), batch, seq).expect("forward");
        let reference: Vec<f32> =
            encoder.forward(t(&ids), t(&mask), with_types.then(|| t(&types))).into_data().to_vec().unwrap();
        let diff = fast.iter().zip(&reference).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
        println!("deberta {name}: max |Δ| vs burn = {diff:.3e}");
        assert!(diff <= 1e-5, "{name}: max |Δ| {diff}");
    }
}

#[test]
fn bad_ids_are_errors_not_panics() {
    let dir = fixture_dir("bert").join("safetensors");
    let (encoder, config, _) = load_encoder::<B>(&dir, &Default::default()).expect("load");
    let engine = FusedEngine::from_encoder(&encoder, &config).unwrap().unwrap();
    let err = engine.forward(&[0, 1_000_000], &[1, 1], None, 1, 2).unwrap_err().to_string();
    assert!(err.contains("token id 1000000") && err.contains("position 1"), "{err}");
    let err = engine.forward(&[0, 1], &[1], None, 1, 2).unwrap_err().to_string();
    assert!(err.contains("expected 1×2"), "{err}");
    assert!(engine.forward(&[-3], &[1], None, 1, 1).is_err());
}

#[test]
fn minilm_engine_matches_burn_on_a_padded_batch() {
    use burn::tensor::{Int, Tensor, TensorData};
    let dir = crate::common::minilm_dir();
    let (encoder, config, _) = load_encoder::<B>(&dir, &Default::default()).expect("load");
    let engine = FusedEngine::from_encoder(&encoder, &config).unwrap().unwrap();
    let (batch, seq) = (3usize, 40usize);
    let mut ids = vec![0i64; batch * seq];
    let mut mask = vec![0i64; batch * seq];
    for b in 0..batch {
        let len = seq - 13 * b; // 40, 27, 14 real tokens, the rest padding
        for j in 0..len {
            ids[b * seq + j] = if j == 0 {
                101
            } else if j + 1 == len {
                102
            } else {
                1000 + ((b * 7919 + j * 104729) % 28000) as i64
            };
            mask[b * seq + j] = 1;
        }
    }
    let fast = engine.forward(&ids, &mask, None, batch, seq).expect("forward");
    let device = Default::default();
    let t = |v: &[i64]| Tensor::<B, 2, Int>::from_data(TensorData::new(v.to_vec(), [batch, seq]), &device);
    let reference: Vec<f32> = encoder.forward(t(&ids), t(&mask), None).into_data().to_vec().unwrap();
    let diff = fast.iter().zip(&reference).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
    println!("minilm engine vs burn, padded batch 3×40: max |Δ| = {diff:.3e}");
    assert!(diff <= TOLERANCE, "max |Δ| {diff}");

    // The same batch through the inference type, both engines.
    let padded =
        PaddedIds { input_ids: &ids, attention_mask: &mask, token_type_ids: None, batch_size: batch, seq_len: seq };
    let mut hidden = Vec::new();
    for engine in [InferenceEngine::Burn, InferenceEngine::Fused] {
        let encoder = InferenceEncoder::new(encoder.clone(), &config, engine).expect("new");
        assert_eq!(encoder.engine(), engine);
        let out: Vec<f32> = encoder.forward(padded, &device).expect("forward").into_data().to_vec().unwrap();
        hidden.push(out);
    }
    let diff = hidden[0].iter().zip(&hidden[1]).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
    println!("minilm InferenceEncoder fused vs burn, padded batch 3×40: max |Δ| = {diff:.3e}");
    assert!(diff <= TOLERANCE, "max |Δ| {diff}");
    let same_as_direct = hidden[1].iter().zip(&fast).all(|(a, b)| a == b);
    assert!(same_as_direct, "InferenceEncoder::Fused returns the engine's own numbers");
}

/// The int8 engine on every family's parity checkpoint stays close to the f32 engine: mean |Δ| of the last hidden
/// state under 5 % of its mean magnitude (8-bit weights and activations on these 32-wide toy encoders).
#[test]
fn int8_engine_stays_close_to_f32_on_every_family() {
    for (family, use_types) in [("bert", true), ("roberta", false), ("electra", true), ("deberta_v3", false)] {
        let dir = fixture_dir(family).join("safetensors");
        let (encoder, config, _) = load_encoder::<B>(&dir, &Default::default()).expect("load");
        let f32_engine = FusedEngine::from_encoder(&encoder, &config).unwrap().unwrap();
        let mut int8_engine = f32_engine.clone();
        int8_engine.quantize_int8();
        assert!(int8_engine.is_int8() && !f32_engine.is_int8());
        let case = expected(family).cases.into_iter().find(|c| c.name == "batch_padded").expect("padded case");
        let (batch, seq) = (case.input_ids.len(), case.input_ids[0].len());
        let flat = |rows: &[Vec<i64>]| rows.iter().flatten().copied().collect::<Vec<_>>();
        let (ids, mask, types) = (flat(&case.input_ids), flat(&case.attention_mask), flat(&case.token_type_ids));
        let types = use_types.then_some(types.as_slice());
        let exact = f32_engine.forward(&ids, &mask, types, batch, seq).unwrap();
        let approx = int8_engine.forward(&ids, &mask, types, batch, seq).unwrap();
        let mean_diff =
            |approx: &[f32]| exact.iter().zip(approx).map(|(a, b)| (a - b).abs()).sum::<f32>() / exact.len() as f32;
        let (int8_diff, mean_size) =
            (mean_diff(&approx), exact.iter().map(|a| a.abs()).sum::<f32>() / exact.len() as f32);
        println!("int8 vs f32, {family}: mean |Δ| {int8_diff:.4} (mean |h| {mean_size:.3})");
        assert!(int8_diff > 0.0, "{family}: int8 gave f32's numbers");
        assert!(int8_diff < 0.05 * mean_size, "{family}: mean |Δ| {int8_diff} vs mean |h| {mean_size}");
        // Two-pass activations leave only the weights' share of the error (most of it on these toy encoders).
        let mut w8a16_engine = f32_engine.clone();
        w8a16_engine.quantize_int8_with(ActivationPrecision::TwoPassInt8);
        assert_eq!(w8a16_engine.int8_activations(), Some(ActivationPrecision::TwoPassInt8));
        let w8a16_diff = mean_diff(&w8a16_engine.forward(&ids, &mask, types, batch, seq).unwrap());
        println!("two-pass int8 vs f32, {family}: mean |Δ| {w8a16_diff:.4}");
        assert!(w8a16_diff > 0.0 && w8a16_diff < 0.95 * int8_diff, "{family}: {w8a16_diff} vs {int8_diff}");
    }
}

/// int8 quantizes each row on its own, and the engine runs the feed-forward one block of rows at a time: a
/// sequence's int8 hidden states are the same numbers whether it runs alone or in a batch that spans several
/// row blocks (at other offsets within them).
#[test]
fn int8_hidden_states_do_not_depend_on_batch_mates_or_row_blocks() {
    for (family, use_types) in [("bert", true), ("deberta_v3", false)] {
        let dir = fixture_dir(family).join("safetensors");
        let (encoder, config, _) = load_encoder::<B>(&dir, &Default::default()).expect("load");
        let mut engine = FusedEngine::from_encoder(&encoder, &config).unwrap().unwrap();
        engine.quantize_int8();
        let case = expected(family).cases.into_iter().find(|c| c.name == "batch_padded").expect("padded case");
        let (batch, seq) = (case.input_ids.len(), case.input_ids[0].len());
        let flat = |rows: &[Vec<i64>]| rows.iter().flatten().copied().collect::<Vec<_>>();
        let (ids, mask, types) = (flat(&case.input_ids), flat(&case.attention_mask), flat(&case.token_type_ids));
        // Enough copies of the batch for more than two row blocks, the copies starting at shifting offsets.
        let copies = (2 * re_models::int8::BLOCK_ROWS) / (batch * seq) + 2;
        let repeat = |v: &[i64]| v.repeat(copies);
        let (big_ids, big_mask, big_types) = (repeat(&ids), repeat(&mask), repeat(&types));
        let h = engine.hidden_size();
        let big = engine
            .forward(&big_ids, &big_mask, use_types.then_some(big_types.as_slice()), batch * copies, seq)
            .unwrap();
        for b in 0..batch {
            let one = |v: &[i64]| v[b * seq..(b + 1) * seq].to_vec();
            let alone = engine.forward(&one(&ids), &one(&mask), use_types.then_some(&one(&types)[..]), 1, seq).unwrap();
            for copy in 0..copies {
                let start = (copy * batch + b) * seq * h;
                assert!(
                    big[start..start + seq * h] == alone[..],
                    "{family}: sequence {b}, copy {copy} of {copies} differs from the sequence alone"
                );
            }
        }
    }
}

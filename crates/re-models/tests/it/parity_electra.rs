//! ELECTRA discriminator parity with transformers (embedding_size 24 ≠ hidden 32 → `embeddings_project`), from
//! safetensors and pytorch_model.bin; `do_lower_case` tokenizer from tokenizer.json and from vocab.txt.

use crate::common::{check_token_ids, expected, fixture_dir, inputs, max_abs_diff, B, TOLERANCE};
use re_models::encoder::{Encoder, EncoderConfig};
use re_models::hub::{load_encoder, load_tokenizer};

#[test]
fn electra_matches_transformers_from_both_formats() {
    let exp = expected("electra");
    for sub in ["safetensors", "bin"] {
        let dir = fixture_dir("electra").join(sub);
        let (encoder, config, report) = load_encoder::<B>(&dir, &Default::default()).expect("load");
        let EncoderConfig::Electra(c) = &config else { panic!("family {config:?}") };
        assert_ne!(c.embedding_size, c.hidden_size);
        let Encoder::Electra(electra) = &encoder else { panic!("not electra") };
        assert!(electra.embeddings_project.is_some());
        assert!(report.missing.is_empty());
        assert!(
            report.unexpected.iter().any(|k| k.starts_with("discriminator_predictions.")),
            "{:?}",
            report.unexpected
        );
        let mut worst = 0.0f32;
        for case in &exp.cases {
            let (ids, mask, types) = inputs(case);
            let diff = max_abs_diff(encoder.forward(ids, mask, Some(types)), case);
            assert!(diff <= TOLERANCE, "electra/{sub} {}: max |Δ| {diff}", case.name);
            worst = worst.max(diff);
        }
        println!("electra {sub} worst max |Δ| = {worst:.3e}");
    }
}

#[test]
fn electra_token_ids_equal_hf() {
    let exp = expected("electra");
    for sub in ["safetensors", "bin"] {
        let tokenizer = load_tokenizer(&fixture_dir("electra").join(sub)).expect("tokenizer");
        check_token_ids(&tokenizer, &exp.cases, &format!("electra/{sub}"));
    }
}

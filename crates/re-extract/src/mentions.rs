//! Mention candidates in Korean text from MeCab + mecab-ko-dic morphemes.
use crate::error::Result;
use crate::Mention;
use re_data::record::EntityType;
use re_morph::{Mecab, Morpheme, Morphology};

/// Finds typed mention candidates with a morphological analyser (see the crate docs for the rules).
pub struct MentionFinder {
    morphology: Box<dyn Morphology>,
}

impl MentionFinder {
    pub fn new(morphology: Box<dyn Morphology>) -> Self {
        MentionFinder { morphology }
    }

    /// MeCab with the default mecab-ko-dic ([`re_morph::default_dicdir`]).
    pub fn mecab() -> Result<Self> {
        Ok(MentionFinder::new(Box::new(Mecab::new()?)))
    }

    /// The candidates of `text`, in order of their start.
    pub fn find(&self, text: &str) -> Result<Vec<Mention>> {
        let morphemes = self.morphology.analyze(text)?;
        Ok(candidates(text, &morphemes))
    }
}

fn candidates(_text: &str, morphemes: &[Morpheme]) -> Vec<Mention> {
    morphemes
        .iter()
        .filter(|m| m.tag == "NNP")
        .map(|m| {
            let t = match m.semantic_class() {
                "인명" => EntityType::Per,
                "지명" => EntityType::Loc,
                _ => EntityType::Org,
            };
            Mention::new(m.surface.clone(), m.start, m.end - 1, t)
        })
        .collect()
}

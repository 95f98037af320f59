//! Label maps: pickles made by Python's pickle module (protocol 4, tools/make_data_fixtures.py), and our own.
use re_data::labels::{LabelMap, COMPETITION_LABELS};
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/io").join(name)
}

#[test]
fn python_pickles_read_as_the_competition_map() {
    let a = LabelMap::load(&fixture("dict_label_to_num.pkl")).unwrap();
    let b = LabelMap::load(&fixture("dict_num_to_label.pkl")).unwrap();
    assert_eq!(a, LabelMap::competition());
    assert_eq!(b, LabelMap::competition());
    assert_eq!(a.id("org:top_members/employees"), Some(1));
    assert_eq!(a.label(29), Some(COMPETITION_LABELS[29]));
}

#[test]
fn our_pickles_round_trip_through_files() {
    let dir = tempfile::tempdir().unwrap();
    for map in [LabelMap::klue(), LabelMap::competition(), LabelMap::from_labels(["battle", "child"])] {
        let l2n = dir.path().join("dict_label_to_num.pkl");
        let n2l = dir.path().join("dict_num_to_label.pkl");
        map.save_pickle_label_to_num(&l2n).unwrap();
        map.save_pickle_num_to_label(&n2l).unwrap();
        assert_eq!(LabelMap::load(&l2n).unwrap(), map);
        assert_eq!(LabelMap::load(&n2l).unwrap(), map);
        let json = dir.path().join("labels.json");
        map.save_json(&json).unwrap();
        assert_eq!(LabelMap::load(&json).unwrap(), map);
    }
}

#[test]
fn our_label_to_num_pickle_keeps_id_order() {
    // serde-pickle writes dict entries in the order given (Python dicts keep insertion order): the label strings
    // must appear in the bytes in id order, as in the competition's file
    let bytes = LabelMap::competition().to_pickle_label_to_num().unwrap();
    let text = String::from_utf8_lossy(&bytes);
    let positions: Vec<usize> = COMPETITION_LABELS.iter().map(|l| text.find(l).unwrap()).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
}

#[test]
fn bad_pickles_are_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.pkl");
    let mut bytes = std::fs::read(fixture("dict_label_to_num.pkl")).unwrap();
    bytes.truncate(bytes.len() / 2);
    std::fs::write(&p, &bytes).unwrap();
    let err = LabelMap::load(&p).unwrap_err().to_string();
    assert!(err.contains("bad.pkl"), "{err}");
    // a pickled list is not a label map
    std::fs::write(&p, serde_pickle::to_vec(&vec![1, 2], Default::default()).unwrap()).unwrap();
    assert!(LabelMap::load(&p).unwrap_err().to_string().contains("dict"));
}

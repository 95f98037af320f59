use re_data::synth::{generate, SynthConfig};

#[test]
fn zz_print_stats() {
    let d = generate(&SynthConfig::default()).unwrap();
    let mut lens: Vec<usize> = d.train.iter().chain(&d.dev).chain(&d.test).map(|r| r.sentence.chars().count()).collect();
    lens.sort();
    let n = lens.len();
    println!("n={n} p50={} p75={} p90={} max={} >200={}", lens[n/2], lens[n*3/4], lens[n*9/10], lens[n-1], lens.iter().filter(|&&l| l>200).count());
    for r in d.train.iter().take(40) { println!("{} | {} | {} | {:?}", r.label.as_deref().unwrap(), r.subject.word, r.object.word, r.sentence); }
}

use std::collections::BTreeMap;
use std::time::Instant;
fn main() {
    let p = std::env::args().nth(1).unwrap();
    let t = Instant::now();
    let b = std::fs::read(&p).unwrap();
    println!("read {:?}", t.elapsed());
    let t = Instant::now();
    let v: BTreeMap<String, songrec_storage::SongMetadata> = serde_json::from_slice(&b).unwrap();
    println!("typed parse {:?} ({} songs)", t.elapsed(), v.len());
    let t = Instant::now();
    let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
    println!("value parse {:?} {}", t.elapsed(), v.is_object());
}

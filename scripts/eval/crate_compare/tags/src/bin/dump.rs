use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::FormatOptions;
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
fn main() {
    for a in std::env::args().skip(1) {
        let mss = MediaSourceStream::new(Box::new(std::fs::File::open(&a).unwrap()), Default::default());
        let mut f = symphonia::default::get_probe().probe(&Hint::new(), mss, FormatOptions::default(), MetadataOptions::default()).unwrap();
        println!("== {a}");
        let mut md = f.metadata();
        loop {
            if let Some(r) = md.current() {
                for t in &r.media.tags { println!("media {:?} = {:?} std={:?}", t.raw.key, t.raw.value, t.std); }
                for pt in &r.per_track { for t in &pt.metadata.tags { println!("track{} {:?} = {:?} std={:?}", pt.track_id, t.raw.key, t.raw.value, t.std); } }
            }
            if md.pop().is_none() { break; }
        }
    }
}

//! CPU time of the calling thread, for the examples that report a cost per song (it stays
//! meaningful on a busy machine, unlike wall time). Included with `#[path]`.

/// CPU seconds used by the calling thread so far (Linux; 0 elsewhere).
pub fn thread_cpu() -> f64 {
    let Ok(s) = std::fs::read_to_string("/proc/thread-self/stat") else {
        return 0.0;
    };
    // Fields after the ")" of the command name: state is field 3; utime 14, stime 15.
    let rest = s.rsplit_once(')').map_or("", |r| r.1);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        f.get(i - 3)
            .and_then(|x| x.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(14) + ticks(15)) / 100.0
}

//! Counts in messages: `1 file`, `2 files`, `1 copy`, `3 copies`.

/// `n` and `thing`, the noun in the plural unless `n` is 1.
///
/// ```
/// use songrec_storage::plural::count;
/// assert_eq!(count(1, "file"), "1 file");
/// assert_eq!(count(0, "file"), "0 files");
/// assert_eq!(count(2_u64, "copy"), "2 copies");
/// assert_eq!(count(3_usize, "match"), "3 matches");
/// assert_eq!(count(2, "new song"), "2 new songs");
/// ```
pub fn count<N: Copy + std::fmt::Display + PartialEq + From<u8>>(n: N, thing: &str) -> String {
    format!("{n} {}", noun(n, thing))
}

/// `thing` as it goes with `n`: singular for 1, else the plural (`-s`; `-es` after s, x, z,
/// ch and sh; `-ies` for a consonant and y). For the last word of `thing` only, so
/// `noun(2, "damaged block")` is `damaged blocks`.
///
/// ```
/// use songrec_storage::plural::noun;
/// assert_eq!(noun(1_u64, "song"), "song");
/// assert_eq!(noun(5_u64, "entry"), "entries");
/// assert_eq!(noun(5_u64, "day"), "days");
/// ```
pub fn noun<N: PartialEq + From<u8>>(n: N, thing: &str) -> String {
    if n == N::from(1) {
        return thing.to_owned();
    }
    let before_y = thing
        .strip_suffix('y')
        .and_then(|stem| stem.chars().last())
        .is_some_and(|c| !"aeiou".contains(c));
    if before_y {
        format!("{}ies", &thing[..thing.len() - 1])
    } else if ["s", "x", "z", "ch", "sh"]
        .iter()
        .any(|e| thing.ends_with(e))
    {
        format!("{thing}es")
    } else {
        format!("{thing}s")
    }
}

//! Folding of Greek and Telugu written in Latin letters.
//!
//! People type Greeklish and romanized Telugu without a standard spelling: `pws`, `pos`,
//! `p8s` for πώς; `ekkada`, `ekkda`, `yekkada` for ఎక్కడ. Each folding maps the common
//! variants of one language onto one spelling. Index and query both go through it.

/// Folds a normalized Greeklish word: `8`→`th`, then digraphs and look-alike letters onto a
/// rough phonetic key (`th`→`t`, `ch`/`ks`→`x`, `ou`→`u`, `eu`/`ey`/`ef`→`ev`, `ei`/`oi`/`h`/`y`→`i`, `w`→`o`,
/// `b`→`v`, `ai`→`e`), and doubled letters to one.
pub(crate) fn fold_greeklish(word: &str) -> String {
    let w = word.replace('8', "th");
    let rules: &[(&str, &str)] = &[
        ("th", "t"),
        ("ch", "x"),
        ("ks", "x"),
        ("kh", "x"),
        ("ps", "ψ"),
        ("ou", "u"),
        ("oy", "u"),
        ("eu", "ev"),
        ("ey", "ev"),
        ("ef", "ev"),
        ("au", "av"),
        ("ay", "av"),
        ("af", "av"),
        ("ei", "i"),
        ("oi", "i"),
        ("ai", "e"),
        ("h", "i"),
        ("y", "i"),
        ("w", "o"),
        ("b", "v"),
        ("ψ", "ps"),
    ];
    let mut w = w;
    for (from, to) in rules {
        if w.contains(from) {
            w = w.replace(from, to);
        }
    }
    dedup_letters(&w)
}

/// Folds a normalized romanized-Telugu word: long vowels (`aa`, `ee`, `oo`) and aspirates
/// (`th`, `dh`, `kh`, `bh`, `ph`, `gh`, `sh`, `ch`) onto short plain letters, `w`→`v`,
/// `z`→`j`, doubled letters to one, a leading `y` before a vowel dropped (`yekkada`).
pub(crate) fn fold_telugu(word: &str) -> String {
    let rules: &[(&str, &str)] = &[
        ("aa", "a"),
        ("ee", "i"),
        ("ii", "i"),
        ("oo", "u"),
        ("uu", "u"),
        ("th", "t"),
        ("dh", "d"),
        ("kh", "k"),
        ("gh", "g"),
        ("ph", "p"),
        ("bh", "b"),
        ("sh", "s"),
        ("ch", "c"),
        ("w", "v"),
        ("z", "j"),
    ];
    let mut w = word.to_string();
    for (from, to) in rules {
        if w.contains(from) {
            w = w.replace(from, to);
        }
    }
    let mut w = dedup_letters(&w);
    if w.len() > 2
        && w.starts_with('y')
        && matches!(w.as_bytes()[1], b'a' | b'e' | b'i' | b'o' | b'u')
    {
        w.remove(0);
    }
    w
}

fn dedup_letters(w: &str) -> String {
    let mut out = String::with_capacity(w.len());
    let mut prev = None;
    for c in w.chars() {
        if Some(c) != prev || c.is_ascii_digit() {
            out.push(c);
        }
        prev = Some(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greeklish_variants_meet() {
        assert_eq!(fold_greeklish("pws"), fold_greeklish("pos"));
        assert_eq!(fold_greeklish("thelw"), fold_greeklish("8elo"));
        assert_eq!(fold_greeklish("einai"), fold_greeklish("ine"));
        assert_eq!(fold_greeklish("dieuthinsi"), fold_greeklish("dieythynsh"));
        assert_eq!(fold_greeklish("akyrwsi"), fold_greeklish("akirosi"));
    }

    #[test]
    fn romanized_telugu_variants_meet() {
        assert_eq!(fold_telugu("ekkada"), fold_telugu("ekada"));
        assert_eq!(fold_telugu("yekkada"), fold_telugu("ekkada"));
        assert_eq!(fold_telugu("naa"), fold_telugu("na"));
        assert_eq!(fold_telugu("cheyyali"), fold_telugu("cheyali"));
        assert_eq!(fold_telugu("raaledu"), fold_telugu("raledu"));
    }
}

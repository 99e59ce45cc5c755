//! Folding of Greek and Telugu written in Latin letters.
//!
//! People type Greeklish and romanized Telugu without a standard spelling: `pws`, `pos`,
//! `p8s` for πώς; `ekkada`, `ekkda`, `yekkada` for ఎక్కడ. Each folding maps the common
//! variants of one language onto one spelling. Index and query both go through it.

/// Folds a normalized Greeklish word: `8`→`th` and `3`→`ks`, then digraphs and look-alike
/// letters onto a rough phonetic key (`th`→`t`, `dh`→`d`, `ph`→`f`, `mp`→`b`, `gk`→`g`,
/// `ch`/`ks`→`x`, `ou`→`u`, `eu`/`ey`/`ef`→`ev`, `ei`/`oi`/`h`/`y`→`i`, `w`→`o`, `b`→`v`,
/// `ai`→`e`), and doubled letters to one.
pub(crate) fn fold_greeklish(word: &str) -> String {
    let w = word.replace('8', "th").replace('3', "ks");
    let rules: &[(&str, &str)] = &[
        ("th", "t"),
        ("dh", "d"),
        ("ph", "f"),
        ("mp", "b"),
        ("gk", "g"),
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

/// Folds a normalized romanized-Telugu word: a `c` that is not `ch` as it sounds (`parcel` →
/// `parsel`, `cancel` → `kansel`), long vowels (`aa`, `ee`, `oo`) and aspirates (`th`, `dh`,
/// `kh`, `bh`, `ph`, `gh`, `sh`, `ch`) onto short plain letters, `w`→`v`, `z`→`j`, `f`→`p`,
/// `q`→`k`, `x`→`ks`, doubled letters to one, a leading `y` before a vowel dropped
/// (`yekkada`).
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
        ("f", "p"),
        ("q", "k"),
        ("x", "ks"),
    ];
    let mut w = hard_c(word);
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

/// English spellings in romanized Telugu: `c` before `e`/`i`/`y` is `s`, `ck` is `k`, any
/// other `c` that does not start `ch` is `k`.
fn hard_c(word: &str) -> String {
    if !word.contains('c') {
        return word.to_string();
    }
    let b = word.as_bytes();
    let mut out = String::with_capacity(word.len());
    for (i, ch) in word.char_indices() {
        if ch != 'c' {
            out.push(ch);
            continue;
        }
        match b.get(i + 1) {
            Some(b'h') => out.push('c'),
            Some(b'k') => {}
            Some(b'e' | b'i' | b'y') => out.push('s'),
            _ => out.push('k'),
        }
    }
    out
}

/// Case endings and postpositions of romanized Telugu, already folded (`nunchi` →
/// `nunci`), longest first: `parcel ni`, `parcelni` and `parcel` meet.
const LATIN_SUFFIXES: &[&str] = &[
    "gurinci", "nunci", "nundi", "kosam", "lalo", "loni", "loki", "lonu", "lo", "ki", "ku", "ni",
    "nu", "to", "lu",
];

/// Fewest letters the rest of a romanized Telugu word keeps when a suffix is stripped.
const LATIN_MIN_STEM: usize = 4;

/// Strips one case ending or postposition from a [`fold_telugu`]ed word, keeping at least
/// four letters: `parselni` → `parsel`, `trakinglo` → `traking`, `ekada` stays.
pub(crate) fn strip_telugu_suffix(folded: &str) -> &str {
    LATIN_SUFFIXES
        .iter()
        .find_map(|s| {
            folded
                .strip_suffix(s)
                .filter(|rest| rest.len() >= LATIN_MIN_STEM)
        })
        .unwrap_or(folded)
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
        assert_eq!(fold_telugu("ledhu"), fold_telugu("ledu"));
        assert_eq!(fold_telugu("vasthundi"), fold_telugu("vastundi"));
        assert_eq!(fold_telugu("parcel"), fold_telugu("parsel"));
        assert_eq!(fold_telugu("tracking"), fold_telugu("traking"));
        assert_ne!(fold_telugu("cheppandi"), fold_telugu("keppandi"));
    }

    #[test]
    fn romanized_telugu_case_endings() {
        let s = |w: &str| strip_telugu_suffix(&fold_telugu(w)).to_string();
        assert_eq!(s("parcelni"), s("parcel"));
        assert_eq!(s("parcel"), fold_telugu("parcel"));
        assert_eq!(s("trackinglo"), s("tracking"));
        assert_eq!(s("addressku"), s("address"));
        assert_eq!(s("customsnunchi"), s("customs"));
        // Too short to lose anything.
        assert_eq!(s("ekkada"), fold_telugu("ekkada"));
        assert_eq!(s("naku"), fold_telugu("naku"));
    }

    #[test]
    fn more_greeklish_variants_meet() {
        assert_eq!(fold_greeklish("mporo"), fold_greeklish("boro"));
        assert_eq!(fold_greeklish("dhema"), fold_greeklish("dema"));
        assert_eq!(fold_greeklish("3ero"), fold_greeklish("ksero"));
        assert_eq!(fold_greeklish("xrimata"), fold_greeklish("chrhmata"));
        assert_eq!(fold_greeklish("aggelia"), fold_greeklish("agelia"));
    }
}

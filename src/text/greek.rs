//! Greek stemming (Snowball, through frostem).
//!
//! The input is already normalized (lowercase, no accents, `ς` folded to `σ`); the Snowball
//! stemmer expects a final sigma at word end, so it is restored before stemming. Index and
//! query both go through here, so they always agree.

use frostem::{Algorithm, Stemmer};
use std::sync::OnceLock;

fn stemmer() -> &'static Stemmer {
    static STEMMER: OnceLock<Stemmer> = OnceLock::new();
    STEMMER.get_or_init(|| Stemmer::new(Algorithm::Greek))
}

/// Stems a normalized Greek word: `δεματοσ`, `δεματα`, `δεματων` → `δεματ`.
pub(crate) fn stem(word: &str) -> String {
    let with_final_sigma;
    let input = match word.strip_suffix('σ') {
        Some(rest) => {
            with_final_sigma = format!("{rest}ς");
            with_final_sigma.as_str()
        }
        None => word,
    };
    let stemmed = stemmer().stem(input);
    crate::text::normalize(&stemmed)
}

#[cfg(test)]
mod tests {
    use super::stem;
    use crate::text::normalize;

    fn s(w: &str) -> String {
        stem(&normalize(w))
    }

    #[test]
    fn inflections_share_a_stem() {
        assert_eq!(s("δέμα"), s("δέματος"));
        assert_eq!(s("δέματα"), s("δεμάτων"));
        assert_eq!(s("παράδοση"), s("παράδοσης"));
        assert_eq!(s("ΠΑΡΑΔΟΣΗ"), s("παραδόσεις"));
        assert_eq!(s("αποστολή"), s("αποστολής"));
    }

    #[test]
    fn accents_and_final_sigma_do_not_matter() {
        assert_eq!(s("πώς"), s("πως"));
        assert_eq!(s("λογαριασμός"), s("λογαριασμοσ"));
        assert_eq!(s("Προϊόντα"), s("προιοντα"));
    }
}

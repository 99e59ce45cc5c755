//! The register lint shared by the content and reply tests.
#![allow(dead_code)]

use sahaya::text::{normalize, words};
use std::collections::HashSet;

/// Greek words that address the customer informally (εσύ): never in a formal answer.
pub const GREEK_INFORMAL_FORMS: &[&str] = &[
    "εσύ",
    "εσένα",
    "σένα",
    "σου",
    "μπορείς",
    "θέλεις",
    "έχεις",
    "χρειάζεσαι",
    "στείλε",
    "δες",
    "γράψε",
    "πάτα",
    "κάνε",
    "επικοινώνησε",
    "μπες",
    "διάλεξε",
    "βάλε",
    "κράτα",
    "πες",
    "ρώτα",
    "συμπλήρωσε",
    "φωτογράφισε",
    "έλεγξε",
    "ανέβασε",
    "επίλεξε",
];

/// Greek words that address the customer formally (εσείς): never in an informal answer.
pub const GREEK_FORMAL_FORMS: &[&str] = &[
    "εσείς",
    "εσάς",
    "σας",
    "μπορείτε",
    "θέλετε",
    "έχετε",
    "χρειάζεστε",
    "στείλτε",
    "δείτε",
    "γράψτε",
    "πατήστε",
    "κάντε",
    "επικοινωνήστε",
    "μπείτε",
    "διαλέξτε",
    "βάλτε",
    "κρατήστε",
    "πείτε",
    "ρωτήστε",
    "συμπληρώστε",
    "φωτογραφίστε",
    "ελέγξτε",
    "ανεβάστε",
    "επιλέξτε",
];

/// Intimate Telugu forms (నువ్వు/నీ): never used with customers, in any register.
pub const TELUGU_INTIMATE_FORMS: &[&str] = &[
    "నువ్వు",
    "నువ్",
    "నీవు",
    "నీ",
    "నీకు",
    "నిన్ను",
    "నీది",
    "నీతో",
    "నీలో",
    "నీకోసం",
];

/// The forms of `forms` that occur as whole words in `text` (accents and case ignored).
pub fn forbidden_words(text: &str, forms: &[&str]) -> Vec<String> {
    let forms: HashSet<String> = forms.iter().map(|f| normalize(f)).collect();
    let n = normalize(text);
    words(&n)
        .filter(|w| forms.contains(*w))
        .map(str::to_string)
        .collect()
}

/// Greek «σε» used as the pronoun "you" (σε ενημερώνουμε, σε παρακαλώ), told from the
/// preposition (σε 2 ημέρες, σε ένα κατάστημα) by the verb ending of the next word.
pub fn greek_informal_se(text: &str) -> Vec<String> {
    let n = normalize(text);
    let ws: Vec<&str> = words(&n).collect();
    ws.windows(2)
        .filter(|w| w[0] == "σε")
        .filter(|w| {
            ["ω", "ουμε", "ουν", "ει", "ησα", "αμε"]
                .iter()
                .any(|e| w[1].ends_with(e))
        })
        .map(|w| format!("σε {}", w[1]))
        .collect()
}

/// Every register problem of a rendered Greek or Telugu reply.
pub fn register_problems(lang: &str, formal: bool, text: &str) -> Vec<String> {
    match (lang, formal) {
        ("el", true) => {
            let mut p = forbidden_words(text, GREEK_INFORMAL_FORMS);
            p.extend(greek_informal_se(text));
            p
        }
        ("el", false) => forbidden_words(text, GREEK_FORMAL_FORMS),
        ("te", _) => forbidden_words(text, TELUGU_INTIMATE_FORMS),
        _ => Vec::new(),
    }
}

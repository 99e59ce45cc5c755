//! Helpers shared by the integration tests: the register lint of the content and reply
//! tests, and copying a content folder.
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
    "θες",
    "είσαι",
    "πάρε",
    "κλείσε",
    "ρίξε",
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
    "είστε",
    "ανοίξτε",
    "ζητήστε",
    "περιμένετε",
    "δηλώστε",
    "αφήστε",
    "κλείστε",
    "πηγαίνετε",
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

/// Greek «σε» used as the pronoun "you" (θα σε ενημερώσουμε, σε περιμένει, σε παρακαλώ),
/// told from the preposition (σε 2 ημέρες, σε όλη την Ελλάδα, σε αυτό το email), which formal
/// text uses freely: the pronoun comes after a particle that only ever precedes a verb (θα, να,
/// δεν, μην, ας) or before a verb form. `στο/στη/στον` are always the preposition.
pub fn greek_informal_se(text: &str) -> Vec<String> {
    const BEFORE_A_VERB: &[&str] = &["θα", "να", "δεν", "δε", "μη", "μην", "ας"];
    /// Endings of the verb forms that follow the pronoun (σε ενημερώνουμε, σε βρει, σε
    /// ενημέρωσα, σε περιμένουν); the few nouns that end so are listed apart.
    const VERB_ENDINGS: &[&str] = &[
        "ω", "ει", "ουμε", "ουν", "ουνε", "αμε", "ανε", "ησα", "ωσα", "ασα", "ηκα", "ησε", "ωσε",
        "ασε", "ηκε",
    ];
    const NOUNS: &[&str] = &["ευρω"];
    let n = normalize(text);
    let ws: Vec<&str> = words(&n).collect();
    let mut found = Vec::new();
    for (i, w) in ws.iter().enumerate() {
        if *w != "σε" {
            continue;
        }
        let after_particle = i > 0 && BEFORE_A_VERB.contains(&ws[i - 1]);
        let next = ws.get(i + 1).copied().unwrap_or_default();
        let before_verb = next.chars().count() > 2
            && !NOUNS.contains(&next)
            && VERB_ENDINGS.iter().any(|e| next.ends_with(e));
        if after_particle || before_verb {
            found.push(format!("σε {next}").trim_end().to_string());
        }
    }
    found
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

/// Copies the folder `from` into `to`, recursively.
pub fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

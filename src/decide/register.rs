//! Register requests in words: a Greek customer may ask the bot to say εσύ («μίλα μου στον
//! ενικό») or εσείς («στον πληθυντικό παρακαλώ»), in Greek or Greeklish. Such a request is
//! about how to talk, not what about, so its words are left out of the search.

use crate::lang::Formality;
use crate::text::words;

/// The register a customer asks for in words: Greek «στον ενικό» (informal) or «στον
/// πληθυντικό» (formal), also in Greeklish.
pub(crate) fn register_request(normalized: &str) -> Option<Formality> {
    words(normalized).find_map(|w| {
        if w.starts_with("ενικ") || w == "eniko" || w == "eniki" {
            Some(Formality::Informal)
        } else if w.starts_with("πληθυντικ")
            || w.starts_with("plithintik")
            || w.starts_with("plithyntik")
            || w.starts_with("plhthyntik")
        {
            Some(Formality::Formal)
        } else {
            None
        }
    })
}

/// The message without the words of a register request.
pub(crate) fn strip_register_words(normalized: &str) -> String {
    const WORDS: &[&str] = &[
        "μιλα",
        "μιλατε",
        "μιλαμε",
        "μιλησε",
        "μιλησετε",
        "μιλαω",
        "μου",
        "μας",
        "στον",
        "σε",
        "με",
        "να",
        "παρακαλω",
        "μπορουμε",
        "μπορεισ",
        "μπορειτε",
        "mila",
        "milame",
        "milise",
        "mou",
        "ston",
        "sto",
        "se",
        "me",
        "na",
        "parakalo",
        "parakalw",
        "boroume",
        "mporoume",
    ];
    words(normalized)
        .filter(|w| register_request(w).is_none() && !WORDS.contains(w))
        .collect::<Vec<_>>()
        .join(" ")
}

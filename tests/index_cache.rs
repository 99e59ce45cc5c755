//! The persistent index: reused when the content is unchanged, built again when it changes,
//! never served when a file of it is corrupt, and answering exactly as the in-memory index.

mod common;

use sahaya::{Config, Engine, IndexStatus, Message, Reply};
use std::path::{Path, PathBuf};

/// Messages of our own in the three languages, some close to the knowledge, some not.
const MESSAGES: &[&str] = &[
    "my parcel hasn't arrived yet",
    "can I change where the parcel gets delivered",
    "how much to ship a small box to Crete",
    "courier never came today",
    "I want my money back for the shipping",
    "do you deliver on sundays",
    "the package arrived broken",
    "how do I print a label",
    "what's the weather like tomorrow",
    "can I pay with cash when it arrives",
    "is there a branch near the airport",
    "track parsel plz",
    "hello there",
    "I need to speak to someone now",
    "Το δέμα μου δεν έχει φτάσει ακόμα",
    "πόσο κοστίζει να στείλω ένα κουτί στην Κρήτη",
    "ο κούριερ δεν ήρθε σήμερα",
    "θέλω να αλλάξω τη διεύθυνση",
    "το πακέτο ήρθε σπασμένο",
    "πληρωμή με κάρτα γίνεται;",
    "που ειναι το δεμα μου",
    "kalimera, pou einai to dema mou",
    "τι ώρα ανοίγετε το Σάββατο",
    "πες μου ένα ανέκδοτο",
    "నా పార్సెల్ ఇంకా రాలేదు",
    "డెలివరీ చిరునామా మార్చాలి",
    "క్రీట్ కి బాక్స్ పంపడానికి ఎంత",
    "కొరియర్ ఈరోజు రాలేదు",
    "పార్సెల్ పగిలిపోయి వచ్చింది",
    "naa parcel ekkada undi",
    "delivery eppudu vastundi",
    "refund kavali",
    "ఆదివారం డెలివరీ ఉందా",
    "నమస్కారం",
    "where is my refund",
    "label printer not working",
];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A data directory with a copy of the shipped knowledge, locales and rules.
fn data_dir(at: &Path) -> PathBuf {
    let data = at.join("data");
    for sub in ["knowledge", "locales", "rules"] {
        common::copy_dir(&root().join(sub), &data.join(sub));
    }
    data
}

/// Settings that keep even the shipped content's index on disk, in `index_dir`.
fn persisted(index_dir: &Path) -> Config {
    Config {
        index_dir: Some(index_dir.to_path_buf()),
        index_min_entries: 0,
        ..Config::default()
    }
}

fn replies(engine: &Engine) -> Vec<Reply> {
    MESSAGES
        .iter()
        .map(|m| {
            engine.respond(&Message {
                at: Some("2026-11-25T10:00:00+02:00".into()),
                ..Message::new(*m)
            })
        })
        .collect()
}

fn built_dir(engine: &Engine) -> PathBuf {
    match engine.index_status() {
        IndexStatus::Built { dir, .. } => dir.clone(),
        other => panic!("expected a built index, got {other}"),
    }
}

#[test]
fn the_persisted_index_answers_as_the_in_memory_one_and_is_reused() {
    let tmp = tempfile::tempdir().unwrap();
    let data = data_dir(tmp.path());
    let in_memory = Engine::load(&data).unwrap();
    assert!(
        matches!(in_memory.index_status(), IndexStatus::InMemory { .. }),
        "the shipped content is small: {}",
        in_memory.index_status()
    );
    let expected = replies(&in_memory);

    let index_dir = tmp.path().join("index");
    let first = Engine::load_with(&data, persisted(&index_dir)).unwrap();
    let dir = built_dir(&first);
    assert!(dir.starts_with(&index_dir), "{}", dir.display());
    assert_eq!(replies(&first), expected);
    assert_eq!(first.calibration(), in_memory.calibration());
    drop(first);

    let again = Engine::load_with(&data, persisted(&index_dir)).unwrap();
    assert_eq!(
        again.index_status(),
        &IndexStatus::Reused { dir: dir.clone() }
    );
    assert_eq!(replies(&again), expected);
    assert_eq!(again.calibration(), in_memory.calibration());
    assert_eq!(
        again.thresholds(sahaya::Lang::Te),
        in_memory.thresholds(sahaya::Lang::Te)
    );
    // Nothing is left in staging.
    let left: Vec<_> = std::fs::read_dir(&index_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left.len(), 1, "{left:?}");
}

#[test]
fn edited_content_gets_a_new_index() {
    let tmp = tempfile::tempdir().unwrap();
    let data = data_dir(tmp.path());
    let index_dir = tmp.path().join("index");
    let first = Engine::load_with(&data, persisted(&index_dir)).unwrap();
    let old = built_dir(&first);

    let file = data.join("knowledge/delivery/missed_delivery.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        text.replacen(
            "\"Will the courier come again?\",",
            "\"Will the courier come again?\",\n  \"the van drove off before I reached the door\",",
            1,
        ),
    )
    .unwrap();
    let edited = Engine::load_with(&data, persisted(&index_dir)).unwrap();
    let new = built_dir(&edited);
    assert_ne!(new, old);
    let reply = edited.respond(&Message::new("the van drove off before I reached the door"));
    assert_eq!(
        reply.answer_id.as_deref(),
        Some("missed_delivery"),
        "{reply:?}"
    );
    // The new content is reused from now on.
    let again = Engine::load_with(&data, persisted(&index_dir)).unwrap();
    assert_eq!(again.index_status(), &IndexStatus::Reused { dir: new });
}

/// Breaks one file of a built index with `damage`, then checks that the next load does not
/// serve it but builds it again, answering as before.
fn rebuilt_after(damage: impl Fn(&Path)) {
    let tmp = tempfile::tempdir().unwrap();
    let data = data_dir(tmp.path());
    let index_dir = tmp.path().join("index");
    let first = Engine::load_with(&data, persisted(&index_dir)).unwrap();
    let dir = built_dir(&first);
    let expected = replies(&first);
    drop(first);
    damage(&dir);
    let next = Engine::load_with(&data, persisted(&index_dir)).unwrap();
    match next.index_status() {
        IndexStatus::Built {
            dir: again,
            replaced: Some(why),
        } => {
            assert_eq!(again, &dir);
            assert!(!why.is_empty());
        }
        other => panic!("a damaged index was not rebuilt: {other}"),
    }
    assert_eq!(replies(&next), expected);
    let after = Engine::load_with(&data, persisted(&index_dir)).unwrap();
    assert!(matches!(after.index_status(), IndexStatus::Reused { .. }));
}

fn flip_byte(path: &Path, at: usize) {
    let mut bytes = std::fs::read(path).unwrap();
    let i = at.min(bytes.len() - 1);
    bytes[i] ^= 0x5a;
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn a_corrupt_data_file_is_rebuilt_not_served() {
    rebuilt_after(|dir| {
        let path = dir.join("sahaya.data");
        let len = std::fs::metadata(&path).unwrap().len() as usize;
        flip_byte(&path, len / 2);
    });
}

#[test]
fn a_truncated_data_file_with_its_manifest_rewritten_is_rebuilt() {
    rebuilt_after(|dir| {
        let path = dir.join("sahaya.data");
        let bytes = std::fs::read(&path).unwrap();
        let cut = &bytes[..bytes.len() / 3];
        std::fs::write(&path, cut).unwrap();
        let manifest = std::fs::read_to_string(dir.join("sahaya.manifest")).unwrap();
        let fixed: Vec<String> = manifest
            .lines()
            .map(|l| match l.split_once(' ') {
                Some(("data_len", _)) => format!("data_len {}", cut.len()),
                Some(("data_crc32", _)) => format!("data_crc32 {:08x}", crc32(cut)),
                _ => l.to_string(),
            })
            .collect();
        std::fs::write(dir.join("sahaya.manifest"), fixed.join("\n") + "\n").unwrap();
    });
}

#[test]
fn a_corrupt_tantivy_file_or_missing_manifest_is_rebuilt() {
    rebuilt_after(|dir| {
        let segment_file = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|e| e == "idx"))
            .expect("a segment's term index");
        flip_byte(&segment_file, 10);
    });
    rebuilt_after(|dir| std::fs::remove_file(dir.join("sahaya.manifest")).unwrap());
}

#[test]
fn an_index_dir_that_cannot_be_written_falls_back_to_memory() {
    let tmp = tempfile::tempdir().unwrap();
    let data = data_dir(tmp.path());
    let blocker = tmp.path().join("a-file");
    std::fs::write(&blocker, "not a directory").unwrap();
    let engine = Engine::load_with(&data, persisted(&blocker.join("index"))).unwrap();
    match engine.index_status() {
        IndexStatus::InMemory { reason } => {
            assert!(reason.contains("cannot be written"), "{reason}")
        }
        other => panic!("{other}"),
    }
    let reply = engine.respond(&Message::new("where is my parcel"));
    assert!(reply.answer_id.is_some(), "{reply:?}");
}

/// CRC-32 (IEEE), bit by bit: the checksum of the manifest.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

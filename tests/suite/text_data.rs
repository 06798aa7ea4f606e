//! `data::text` on the real Shakespeare text: the character vocabulary,
//! encode/decode round trips, next-token windows (seeded, shifted by one),
//! and the errors for text outside the vocabulary.

use rand::SeedableRng;
use rand::rngs::StdRng;
use tapeflow::data::{CharTokenizer, TextWindows};

fn shakespeare() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/data/shakespeare.txt"))
        .expect("data/shakespeare.txt")
}

#[test]
fn shakespeare_has_76_characters_and_round_trips() {
    let text = shakespeare();
    let tok = CharTokenizer::from_text(&text).expect("vocabulary");
    // data/README.md: plain ASCII, 76 distinct characters.
    assert_eq!(tok.vocab_size(), 76);
    assert_eq!(tok.vocabulary().chars().next(), Some('\n'));
    let ids = tok.encode(&text).expect("encode");
    assert_eq!(ids.len(), 1_036_496);
    assert_eq!(tok.decode(&ids).expect("decode"), text);
    let again = CharTokenizer::from_vocabulary(&tok.vocabulary()).expect("rebuild");
    assert_eq!(again, tok);
}

#[test]
fn random_windows_are_seeded_and_targets_are_the_next_tokens() {
    let tokens: Vec<usize> = (0..1000).map(|i| i % 97).collect();
    let w = TextWindows::new(tokens, 16).expect("windows");
    let (x, y) = w
        .random_windows_with_rng::<f32>(8, &mut StdRng::seed_from_u64(3))
        .expect("draw");
    let (x2, _) = w
        .random_windows_with_rng::<f32>(8, &mut StdRng::seed_from_u64(3))
        .expect("draw");
    let (x3, _) = w
        .random_windows_with_rng::<f32>(8, &mut StdRng::seed_from_u64(4))
        .expect("draw");
    assert_eq!(x, x2);
    assert_ne!(x, x3);
    for (xr, yr) in x.as_slice().chunks(16).zip(y.as_slice().chunks(16)) {
        for i in 0..16 {
            assert_eq!((xr[i] as usize + 1) % 97, yr[i] as usize);
        }
    }
}

#[test]
fn fixed_windows_cover_the_text_end_to_end() {
    let w = TextWindows::new((0..101).collect(), 10).expect("windows");
    let (x, y) = w.fixed_windows::<f64>(None).expect("windows");
    assert_eq!(x.shape(), &[10, 10]);
    assert_eq!(
        x.to_vec()[90..],
        (90..100).map(|v| v as f64).collect::<Vec<_>>()[..]
    );
    assert_eq!(y.to_vec()[99], 100.0);
}

#[test]
fn text_outside_the_vocabulary_is_an_error() {
    let tok = CharTokenizer::from_text("abc").expect("vocabulary");
    assert_eq!(
        tok.encode("abz").unwrap_err().to_string(),
        "encode: character 'z' at position 2 is not in the vocabulary of 3 characters"
    );
    assert_eq!(
        tok.decode(&[0, 3]).unwrap_err().to_string(),
        "decode: index 3 out of range for length 3"
    );
    assert!(CharTokenizer::from_vocabulary("").is_err());
    assert!(TextWindows::new(vec![1, 2, 3], 0).is_err());
}

//! Fuzz-style robustness of the IDX parser: valid files mutated by truncation at
//! every length, seeded random byte flips, and huge dimensions must give an
//! error that names the field at fault, never a panic.

use born::data::idx;
use born::prelude::*;
use born::runtime::Rng;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Words that name a field of an IDX file (or the gzip layer) in parser errors.
const FIELDS: [&str; 7] = ["magic", "dtype", "rank", "dims", "data", "gzip", "trailing"];

/// Valid IDX files of every element type (raw bytes).
fn samples() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let u8s = Tensor::from_vec((0..60).map(|v| (v * 7) as u8).collect::<Vec<u8>>(), [3, 4, 5]);
    out.push(idx::encode(&u8s).unwrap());
    let i32s = Tensor::from_vec((0..12).map(|v| v * 1000 - 5000).collect::<Vec<i32>>(), [12]);
    out.push(idx::encode(&i32s).unwrap());
    let f32s = Tensor::from_vec((0..24).map(|v| v as f32 / 3.0).collect::<Vec<f32>>(), [2, 3, 4]);
    out.push(idx::encode(&f32s).unwrap());
    let f64s = Tensor::from_vec((0..6).map(|v| v as f64 * -1.5).collect::<Vec<f64>>(), [6, 1]);
    out.push(idx::encode(&f64s).unwrap());
    // i8 and i16 (encode writes neither): built by hand.
    let mut i8s = vec![0, 0, 0x09, 1, 0, 0, 0, 5];
    i8s.extend([0x80, 0xff, 0, 1, 0x7f]);
    out.push(i8s);
    let mut i16s = vec![0, 0, 0x0B, 2, 0, 0, 0, 2, 0, 0, 0, 2];
    for v in [-300i16, 2, 0, i16::MAX] {
        i16s.extend(v.to_be_bytes());
    }
    out.push(i16s);
    out
}

/// Parses without letting a panic escape; returns the error text, or None if parsed.
fn check(bytes: &[u8], what: &str) -> Option<String> {
    let r = catch_unwind(AssertUnwindSafe(|| idx::parse(bytes).map(|t| t.shape().to_vec())));
    let r = r.unwrap_or_else(|_| panic!("idx::parse panicked on {what} ({} bytes)", bytes.len()));
    match r {
        Ok(_) => None,
        Err(e) => {
            let msg = e.to_string();
            assert!(
                FIELDS.iter().any(|f| msg.contains(f)),
                "error for {what} names no field: {msg}"
            );
            Some(msg)
        }
    }
}

#[test]
fn valid_samples_parse_raw_and_gzip() {
    for s in samples() {
        assert!(check(&s, "valid").is_none());
        assert!(check(&idx::gzip(&s), "valid gzip").is_none());
    }
}

#[test]
fn truncation_at_every_length() {
    for (k, s) in samples().into_iter().enumerate() {
        for len in 0..s.len() {
            let msg = check(&s[..len], &format!("sample {k} cut to {len}")).expect("a cut file must fail");
            if len >= 4 + 4 * s[3] as usize {
                let want = format!("expected {} bytes", s.len() - (4 + 4 * s[3] as usize));
                assert!(
                    msg.contains(&want) && msg.contains(&format!("got {}", len - (4 + 4 * s[3] as usize))),
                    "{msg}"
                );
            }
        }
        let gz = idx::gzip(&s);
        for len in 0..gz.len() {
            // Gzip cut short: an error (or, for a cut inside the trailer only, a
            // clean parse is impossible since the CRC/size are missing).
            check(&gz[..len], &format!("gzip sample {k} cut to {len}"));
        }
        let mut long = s.clone();
        long.push(0);
        assert!(check(&long, "one trailing byte").unwrap().contains("trailing"));
    }
}

#[test]
fn random_byte_flips() {
    let mut rng = Rng::seeded(0x1d8);
    let samples = samples();
    let mut errors = 0;
    for round in 0..20_000 {
        let base = &samples[round % samples.len()];
        let gz = round % 4 == 3;
        let mut b = if gz { idx::gzip(base) } else { base.clone() };
        let flips = 1 + (rng.next_u64() % 4) as usize;
        for _ in 0..flips {
            let i = (rng.next_u64() % b.len() as u64) as usize;
            // Favour the header, where the interesting fields are.
            let i = if rng.next_u64().is_multiple_of(2) {
                i % 16.min(b.len())
            } else {
                i
            };
            b[i] ^= 1 << (rng.next_u64() % 8);
        }
        if rng.next_u64().is_multiple_of(8) {
            let cut = (rng.next_u64() % b.len() as u64) as usize;
            b.truncate(cut);
        }
        if check(&b, &format!("round {round}")).is_some() {
            errors += 1;
        }
    }
    assert!(errors > 5_000, "mutations should mostly break files ({errors})");
}

#[test]
fn huge_dims_do_not_allocate_or_overflow() {
    for code in [0x08u8, 0x09, 0x0B, 0x0C, 0x0D, 0x0E] {
        for rank in 1..=8u8 {
            let mut b = vec![0, 0, code, rank];
            for _ in 0..rank {
                b.extend(u32::MAX.to_be_bytes());
            }
            b.extend([1, 2, 3, 4]);
            let msg = check(&b, "huge dims").unwrap();
            assert!(msg.contains("overflow") || msg.contains("expected"), "{msg}");
            let msg = check(&idx::gzip(&b), "huge dims gzip").unwrap();
            assert!(msg.contains("overflow") || msg.contains("expected"), "{msg}");
        }
    }
    // Product overflow exactly.
    let mut b = vec![0, 0, 0x0E, 3];
    for d in [1u32 << 31, 1 << 31, 4] {
        b.extend(d.to_be_bytes());
    }
    assert!(check(&b, "overflow").unwrap().contains("dims"));
    // A rank of 255 and a bad type code.
    assert!(check(&[0, 0, 8, 255], "rank 255").unwrap().contains("rank"));
    assert!(check(&[0, 0, 0x0F, 1, 0, 0, 0, 0], "type 0x0f")
        .unwrap()
        .contains("dtype"));
    assert!(check(&[0x1f, 0x8b], "gzip magic only").unwrap().contains("gzip"));
}

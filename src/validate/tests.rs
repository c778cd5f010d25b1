//! The statistics on hand-made outputs, where the expected numbers follow from the definitions.

use super::stats::{argmax, auc, RefAcc};
use super::ReferenceOutputs;
use crate::ir::{Profile, ProfileName};
use crate::reference::float::count_ties;
use std::path::PathBuf;

fn reference(min: f64) -> ReferenceOutputs {
    ReferenceOutputs {
        path: PathBuf::from("ref.npy"),
        rows: 0,
        cols: 2,
        values: vec![],
        min_agreement: min,
    }
}

#[test]
fn auc_of_perfect_inverted_and_tied_scores() {
    assert_eq!(auc(&[0.1, 0.2, 0.8, 0.9], &[0, 0, 1, 1]), Some(1.0));
    assert_eq!(auc(&[0.9, 0.8, 0.2, 0.1], &[0, 0, 1, 1]), Some(0.0));
    assert_eq!(auc(&[0.5; 4], &[0, 1, 0, 1]), Some(0.5));
    assert_eq!(auc(&[0.5, 0.6], &[1, 1]), None);
    assert_eq!(argmax(&[0.0f32, 3.0, 3.0]), 1);
}

#[test]
fn disagreements_on_tie_events_are_counted_apart() {
    let mut acc = RefAcc::default();
    // 8 events: 6 agree (one of them a tie event), 1 disagrees at a tie, 1 disagrees without.
    for _ in 0..5 {
        acc.add(&[1.0, 0.0], &[0.9, 0.1], false);
    }
    acc.add(&[1.0, 0.0], &[0.9, 0.1], true);
    acc.add(&[0.5, 0.5001], &[0.5001, 0.5], true);
    acc.add(&[0.0, 2.0], &[1.0, 0.5], false);
    let a = acc.agreement();
    assert_eq!(a.argmax_agreement, 6.0 / 8.0);
    let e = a.max_abs_error.unwrap();
    assert!((e - 1.5).abs() < 1e-12, "{e}");
    // Without ties: 6 events, 5 agree.
    assert_eq!(acc.agreement_without_ties(), 5.0 / 6.0);
    let r = acc.report(&reference(0.8));
    assert_eq!((r.tie_events, r.tie_disagreements), (2, 1));
    assert!(r.passed);
    assert!(!acc.report(&reference(0.9)).passed);
}

#[test]
fn ties_are_exact_halves_inside_the_clamp_range() {
    let p = Profile::named(ProfileName::Bithep);
    // g = 1: 2.5 and -3.5 are ties, 2.5 + 2 ulps too (summation order decides); 2.4999 is
    // not; 127.5 rounds to 127 either way (clamped).
    let near = f32::from_bits(2.5f32.to_bits() + 2);
    let far = f32::from_bits(2.5f32.to_bits() + 8);
    assert_eq!(count_ties(&[2.5, -3.5, near, far, 2.4999, 1.0], 1.0, &p), 3);
    assert_eq!(count_ties(&[127.5, -128.5, 126.5], 1.0, &p), 1);
}

#[test]
fn output_ties_are_relative_to_the_outputs() {
    assert!(super::output_tie(&[0.05817076, 0.05817079, -1.0]));
    assert!(!super::output_tie(&[0.0581, 0.0582]));
    assert!(super::output_tie(&[0.0, 0.0]));
    assert!(!super::output_tie(&[1.0]));
}

#[test]
fn a_one_dimensional_reference_is_one_output_per_event() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("one.npy");
    ndarray_npy::write_npy(&p, &ndarray::arr1(&[0.5f32, -1.0, 2.0])).unwrap();
    let r = ReferenceOutputs::read(&p, 0.999).unwrap();
    assert_eq!((r.rows, r.cols), (3, 1));
    assert_eq!(r.row(2), [2.0]);
    let p2 = d.path().join("two.npy");
    ndarray_npy::write_npy(&p2, &ndarray::arr2(&[[0.5f32, -1.0, 2.0]])).unwrap();
    let r = ReferenceOutputs::read(&p2, 0.999).unwrap();
    assert_eq!((r.rows, r.cols), (1, 3));
    assert!(
        ReferenceOutputs::read(&p2, 99.9).is_err(),
        "a percentage is not a fraction"
    );
}

#[test]
fn a_ref_member_of_the_data_file_is_read_one_or_two_dimensional() {
    let d = tempfile::tempdir().unwrap();
    let write = |name: &str, member: &str, one_d: bool| {
        let p = d.path().join(name);
        let mut z = ndarray_npy::NpzWriter::new(std::fs::File::create(&p).unwrap());
        z.add_array("x", &ndarray::Array2::<f32>::zeros((3, 4)))
            .unwrap();
        if one_d {
            z.add_array(member, &ndarray::arr1(&[1.0f32, 2.0, 3.0]))
                .unwrap();
        } else {
            z.add_array(
                member,
                &ndarray::arr2(&[[1.0f32, 2.0], [3.0, 4.0], [5.0, 6.0]]),
            )
            .unwrap();
        }
        z.finish().unwrap();
        p
    };
    let r = ReferenceOutputs::from_data(&write("a.npz", "ref", true), 0.999)
        .unwrap()
        .unwrap();
    assert_eq!((r.rows, r.cols), (3, 1));
    assert!(r.path.to_string_lossy().ends_with("a.npz:ref"));
    let r = ReferenceOutputs::from_data(&write("b.npz", "torch", false), 0.999)
        .unwrap()
        .unwrap();
    assert_eq!((r.rows, r.cols), (3, 2));
    assert_eq!(r.row(1), [3.0, 4.0]);
    assert!(
        ReferenceOutputs::from_data(&write("c.npz", "other", false), 0.999)
            .unwrap()
            .is_none()
    );
}

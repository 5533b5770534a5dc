use super::*;
use crate::calibrate::{local_device, suite, write_and_profile, TempDir};
use flopscope_core::device::Catalog;
use flopscope_core::machine::Machine;
use flopscope_core::predict::{Backend, Dtype, Params};

/// A one-core device of 100 GFLOP/s and 20 GB/s: at these figures the suite holds kernels
/// bound by compute, by memory and by launch overhead.
fn target() -> Target {
    let m = Machine::spec(100.0, 20.0).unwrap();
    let (d, _) = local_device("test", &m).unwrap();
    Target::new(d, Catalog::builtin(), Params::builtin()).unwrap()
}

fn options() -> predict::Options {
    predict::Options {
        dtype: Some(Dtype::Fp32),
        backend: Some(Backend::OnnxRuntime),
        threads: Some(1),
    }
}

/// Hand-chosen parameters, unlike the built-in CPU prior in every figure.
fn truth() -> Efficiency {
    let op = |eff, half_gflop, mem_eff| OpEfficiency {
        eff,
        half_gflop,
        mem_eff,
    };
    Efficiency {
        basis: "hand-chosen".into(),
        overhead_us: 6.0,
        strided_copy: 0.0,
        roofline_p: None,
        l2_carry: 0.0,
        ops: [
            (OpClass::Gemm, op(0.8, 0.02, 1.5)),
            (OpClass::Conv, op(0.7, 0.03, 2.0)),
            (OpClass::GroupedConv, op(0.15, 0.002, 0.9)),
            (OpClass::Attention, op(0.5, 0.01, 1.2)),
            (OpClass::Elementwise, op(0.05, 0.0005, 0.8)),
            (OpClass::Data, op(1.0, 0.0, 0.6)),
        ]
        .into_iter()
        .collect(),
    }
}

fn profiles() -> Vec<(String, Profile)> {
    let dir = TempDir::new("fit-test").unwrap();
    suite::suite()
        .iter()
        .enumerate()
        .map(|(i, m)| (m.name.clone(), write_and_profile(m, &dir.0, i).unwrap().1))
        .collect()
}

/// The closed form the fit evaluates is `predict`'s own latency, for any parameters.
#[test]
fn terms_give_predicts_latency() {
    let mut t = target();
    t.efficiency = truth();
    for (name, p) in profiles().iter().step_by(7) {
        let want = predict::predict(p, &t, options()).unwrap().latency_ms;
        let got = Terms::new(p, &t, options()).unwrap().time_ms(&t.efficiency);
        assert!((got - want).abs() <= 1e-9 * want, "{name}: {got} vs {want}");
    }
}

/// Timings made with the formula from known parameters give those parameters back: every
/// parameter the suite's times depend on (a 10% change moves some sample by over 0.5%) is
/// recovered within 2%, starting from the built-in CPU prior.
#[test]
fn fit_recovers_known_parameters() {
    let mut truth_target = target();
    truth_target.efficiency = truth();
    let profiles = profiles();
    let samples: Vec<Sample> = profiles
        .iter()
        .map(|(name, p)| Sample {
            name: name.clone(),
            measured_ms: predict::predict(p, &truth_target, options())
                .unwrap()
                .latency_ms,
            profile: p.clone(),
        })
        .collect();
    let fitted = fit(&samples, &target(), options(), "synthetic").unwrap();
    assert!(fitted.median_abs_pct() < 0.1, "{}", fitted.median_abs_pct());
    let terms: Vec<Terms> = samples
        .iter()
        .map(|s| Terms::new(&s.profile, &truth_target, options()).unwrap())
        .collect();
    let mut checked = 0;
    for p in identifiable(&terms) {
        let mut moved = truth();
        p.set(&mut moved, p.get(&truth()) * 1.1);
        let sensitive = terms.iter().any(|t| {
            let (a, b) = (t.time_ms(&truth()), t.time_ms(&moved));
            ((b - a) / a).abs() > 0.005
        });
        if !sensitive {
            continue;
        }
        let (want, got) = (p.get(&truth()), p.get(&fitted.efficiency));
        assert!(
            ((got - want) / want).abs() < 0.02,
            "{p:?}: fitted {got}, true {want}"
        );
        checked += 1;
    }
    // eff and half of the four product classes, overhead, and the memory-bound ones.
    assert!(checked >= 12, "only {checked} parameters were checkable");
}

#[test]
fn fit_refuses_samples_without_a_positive_time() {
    let (name, p) = profiles().swap_remove(0);
    let s = Sample {
        name,
        profile: p,
        measured_ms: 0.0,
    };
    let e = fit(&[s], &target(), options(), "x").err().unwrap();
    assert!(e.to_string().contains("positive time"), "{e}");
    assert!(fit(&[], &target(), options(), "x").is_err());
}

/// Gaussian elimination against a system solved by hand: x + y = 3, 2x − y = 0 → (1, 2).
#[test]
fn solve_small_system() {
    let x = solve(vec![vec![1.0, 1.0], vec![2.0, -1.0]], vec![3.0, 0.0]).unwrap();
    assert!((x[0] - 1.0).abs() < 1e-12 && (x[1] - 2.0).abs() < 1e-12);
    assert!(solve(vec![vec![1.0, 2.0], vec![2.0, 4.0]], vec![1.0, 2.0]).is_none());
}

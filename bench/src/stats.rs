//! Confidence intervals over repetitions.
//!
//! A repetition's class mean is one observation; intervals are Student-t
//! intervals over those (the repetitions of an arm are independent runs).
//! Ratios between arms use the delta method on the two means, with the
//! degrees of freedom of the smaller sample: a conservative interval that
//! ignores the pairing of interleaved repetitions.

use serde::{Deserialize, Deserializer, Serialize};

/// A ratio of means with the half-width of its 95 % confidence interval
/// (None when either side has fewer than two repetitions).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ratio {
    /// The ratio of the means (NaN when a mean is missing).
    #[serde(deserialize_with = "nan_if_null")]
    pub value: f64,
    /// Half-width of the 95 % confidence interval.
    pub ci95: Option<f64>,
}

/// Deserializes a float that JSON wrote as null (serde_json writes NaN so)
/// back as NaN.
pub fn nan_if_null<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// Two-sided 95 % quantile of Student's t with `df` degrees of freedom
/// (table for 1..=30, the normal quantile beyond); NaN for `df == 0`.
pub fn t95(df: usize) -> f64 {
    const T: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
        2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
    ];
    match df {
        0 => f64::NAN,
        1..=30 => T[df - 1],
        _ => 1.960,
    }
}

/// Mean and sample variance of `xs` (NaN variance below two values).
fn mean_var(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    if xs.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let m = xs.iter().sum::<f64>() / n;
    if xs.len() < 2 {
        return (m, f64::NAN);
    }
    (m, xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1.0))
}

/// Mean of `xs` and the half-width of its 95 % confidence interval (None
/// with fewer than two values).
pub fn mean_ci95(xs: &[f64]) -> (f64, Option<f64>) {
    let (m, v) = mean_var(xs);
    let h = t95(xs.len().saturating_sub(1)) * (v / xs.len() as f64).sqrt();
    (m, h.is_finite().then_some(h))
}

/// Ratio of the means of `a` over `b` with its 95 % confidence interval
/// (delta method).
pub fn ratio_ci95(a: &[f64], b: &[f64]) -> Ratio {
    let (ma, va) = mean_var(a);
    let (mb, vb) = mean_var(b);
    let r = ma / mb;
    let rel = va / (a.len() as f64 * ma * ma) + vb / (b.len() as f64 * mb * mb);
    let df = a.len().min(b.len()).saturating_sub(1);
    let h = t95(df) * r.abs() * rel.sqrt();
    Ratio {
        value: r,
        ci95: h.is_finite().then_some(h),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_follow_students_t() {
        // Five values with mean 10 and sample sd 1: 2.776 * 1 / sqrt(5).
        let xs = [9.0, 9.0, 10.0, 11.0, 11.0];
        let (m, h) = mean_ci95(&xs);
        assert_eq!(m, 10.0);
        assert!((h.unwrap() - 2.776 / 5f64.sqrt()).abs() < 1e-9, "{h:?}");
        assert!(mean_ci95(&[3.0]).1.is_none());
        assert!(t95(0).is_nan());
        assert_eq!(t95(100), 1.960);
    }

    #[test]
    fn ratio_intervals_widen_with_either_arms_noise() {
        let b = [100.0, 100.0, 100.0];
        let r = ratio_ci95(&[50.0, 50.0, 50.0], &b);
        assert_eq!((r.value, r.ci95), (0.5, Some(0.0)));
        let r = ratio_ci95(&[40.0, 50.0, 60.0], &b);
        assert!((r.value - 0.5).abs() < 1e-12);
        // sd 10 over 3 runs: 4.303 * 0.5 * sqrt(100 / (3 * 2500)).
        let h1 = r.ci95.unwrap();
        assert!((h1 - 4.303 * 0.5 * (100.0f64 / 7500.0).sqrt()).abs() < 1e-9);
        let h2 = ratio_ci95(&[40.0, 50.0, 60.0], &[90.0, 100.0, 110.0]).ci95.unwrap();
        assert!(h2 > h1);
        assert_eq!(ratio_ci95(&[1.0], &[1.0]).ci95, None);
        // A JSON null (how NaN is written) reads back as NaN.
        let back: Ratio = serde_json::from_str(r#"{"value":null,"ci95":null}"#).unwrap();
        assert!(back.value.is_nan());
    }
}

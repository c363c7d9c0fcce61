//! Pure playlist geometry on unit vectors: flowing orders (greedy nearest-neighbour chain
//! improved by 2-opt), spherical interpolation, and progress along a line from A to B.

use songrec_storage::math;

/// Cosine distance of two unit vectors (0 = same direction, 2 = opposite).
pub fn distance(a: &[f32], b: &[f32]) -> f32 {
    1.0 - math::dot(a, b)
}

/// An order of all `vecs` starting at `start` in which neighbours are alike: a greedy
/// nearest-neighbour chain, then 2-opt moves (reversing a stretch when that shortens the
/// path) until none helps. The first song stays first.
///
/// ```
/// use songrec_discover::playlist::order::flow_order;
/// // Points on a line, shuffled: the flowing order from the leftmost is left to right.
/// let xs = [0.3f32, 0.0, 0.9, 0.5, 0.1, 0.7];
/// let vecs: Vec<Vec<f32>> = xs.iter().map(|x| vec![x.cos(), x.sin()]).collect();
/// assert_eq!(flow_order(&vecs, 1), vec![1, 4, 0, 3, 5, 2]);
/// ```
pub fn flow_order<V: AsRef<[f32]>>(vecs: &[V], start: usize) -> Vec<usize> {
    let n = vecs.len();
    if n == 0 {
        return Vec::new();
    }
    let d = distances(vecs);
    let mut order = greedy_chain(&d, n, start.min(n - 1));
    two_opt(&d, n, &mut order, false);
    order
}

fn distances<V: AsRef<[f32]>>(vecs: &[V]) -> Vec<f32> {
    let n = vecs.len();
    let mut d = vec![0f32; n * n];
    for i in 0..n {
        for j in i + 1..n {
            let x = distance(vecs[i].as_ref(), vecs[j].as_ref());
            d[i * n + j] = x;
            d[j * n + i] = x;
        }
    }
    d
}

/// Greedy chain over a distance matrix: from `start`, always the nearest unvisited (ties by index).
pub fn greedy_chain(d: &[f32], n: usize, start: usize) -> Vec<usize> {
    let mut used = vec![false; n];
    let mut order = Vec::with_capacity(n);
    let mut cur = start;
    used[cur] = true;
    order.push(cur);
    while order.len() < n {
        let mut best: Option<(f32, usize)> = None;
        for j in 0..n {
            if !used[j] && best.is_none_or(|(bd, _)| d[cur * n + j] < bd) {
                best = Some((d[cur * n + j], j));
            }
        }
        let Some((_, j)) = best else { break };
        used[j] = true;
        order.push(j);
        cur = j;
    }
    order
}

/// 2-opt on an open path whose first element is fixed (and the last too when `fixed_end`).
pub fn two_opt(d: &[f32], n: usize, order: &mut [usize], fixed_end: bool) {
    let len = order.len();
    if len < 3 {
        return;
    }
    let last_movable = if fixed_end { len - 2 } else { len - 1 };
    for _pass in 0..100 {
        let mut improved = false;
        for i in 1..last_movable {
            for j in i + 1..=last_movable {
                let (a, b, c) = (order[i - 1], order[i], order[j]);
                let mut delta = d[a * n + c] - d[a * n + b];
                if j + 1 < len {
                    let e = order[j + 1];
                    delta += d[b * n + e] - d[c * n + e];
                }
                if delta < -1e-6 {
                    order[i..=j].reverse();
                    improved = true;
                }
            }
        }
        if !improved {
            break;
        }
    }
}

/// Spherical interpolation between unit vectors: `t` = 0 gives `a`, 1 gives `b`, and the
/// points in between are evenly spaced along the great circle (unit length).
///
/// ```
/// use songrec_discover::playlist::order::slerp;
/// let m = slerp(&[1.0, 0.0], &[0.0, 1.0], 0.5);
/// assert!((m[0] - 0.70710677).abs() < 1e-6 && (m[1] - 0.70710677).abs() < 1e-6);
/// ```
pub fn slerp(a: &[f32], b: &[f32], t: f32) -> Vec<f32> {
    let cos = math::dot(a, b).clamp(-1.0, 1.0);
    let omega = cos.acos();
    let s = omega.sin();
    let mut v: Vec<f32> = if s < 1e-4 {
        a.iter().zip(b).map(|(x, y)| x + t * (y - x)).collect()
    } else {
        let (wa, wb) = (((1.0 - t) * omega).sin() / s, (t * omega).sin() / s);
        a.iter().zip(b).map(|(x, y)| wa * x + wb * y).collect()
    };
    math::normalize(&mut v);
    v
}

/// Where `v` projects onto the line from `a` to `b`: 0 at `a`, 1 at `b`.
///
/// ```
/// use songrec_discover::playlist::order::progress;
/// assert_eq!(progress(&[0.5, 0.5], &[0.0, 0.0], &[1.0, 0.0]), 0.5);
/// ```
pub fn progress(v: &[f32], a: &[f32], b: &[f32]) -> f32 {
    let mut num = 0f32;
    let mut den = 0f32;
    for ((x, p), q) in v.iter().zip(a).zip(b) {
        num += (x - p) * (q - p);
        den += (q - p) * (q - p);
    }
    if den > 0.0 { num / den } else { 0.0 }
}

/// How much a candidate's distance from a waypoint's progress costs, in cosine units.
pub const PROGRESS_WEIGHT: f32 = 1.0;

/// Chooses one song per waypoint for a path from `a` to `b` (unit vectors).
///
/// `waypoints[i]` lists the candidates (indices into `vecs`) for the i-th interior waypoint,
/// at progress `(i + 1) / (waypoints.len() + 1)`. Each pick maximises similarity to its
/// waypoint minus [`PROGRESS_WEIGHT`] × the gap between the candidate's progress and the
/// waypoint's, among unused candidates whose progress is at least the previous pick's (so
/// progress never goes back) and that `allowed(candidate, picked so far)` accepts. A waypoint
/// with no acceptable candidate is skipped. Returns the picks in order.
pub fn pick_path(
    a: &[f32],
    b: &[f32],
    vecs: &[Vec<f32>],
    waypoints: &[Vec<usize>],
    allowed: &dyn Fn(usize, &[usize]) -> bool,
) -> Vec<usize> {
    let m = waypoints.len();
    let mut picked: Vec<usize> = Vec::with_capacity(m);
    let mut last = f32::NEG_INFINITY;
    let prog: Vec<f32> = vecs.iter().map(|v| progress(v, a, b)).collect();
    for (i, cands) in waypoints.iter().enumerate() {
        let t = (i + 1) as f32 / (m + 1) as f32;
        let p = slerp(a, b, t);
        let mut best: Option<(f32, usize)> = None;
        for &c in cands {
            if picked.contains(&c) || prog[c] < last || !allowed(c, &picked) {
                continue;
            }
            let score = math::dot(&vecs[c], &p) - PROGRESS_WEIGHT * (prog[c] - t).abs();
            if best.is_none_or(|(s, bc)| score > s || (score == s && c < bc)) {
                best = Some((score, c));
            }
        }
        if let Some((_, c)) = best {
            last = prog[c];
            picked.push(c);
        }
    }
    picked
}

#[cfg(test)]
mod tests {
    use super::*;
    use songrec_storage::rng::SplitMix;

    /// Total distance along a path.
    pub(crate) fn path_length<V: AsRef<[f32]>>(vecs: &[V], order: &[usize]) -> f32 {
        order
            .windows(2)
            .map(|w| distance(vecs[w[0]].as_ref(), vecs[w[1]].as_ref()))
            .sum()
    }

    #[test]
    fn path_length_sums_the_distances() {
        let v = vec![vec![1.0f32, 0.0], vec![0.0, 1.0], vec![-1.0, 0.0]];
        assert_eq!(path_length(&v, &[0, 1, 2]), 2.0);
        assert_eq!(path_length(&v, &[0, 2, 1]), 3.0);
    }

    fn unit(v: Vec<f32>) -> Vec<f32> {
        let mut v = v;
        math::normalize(&mut v);
        v
    }

    #[test]
    fn two_opt_never_lengthens_and_untangles() {
        let mut r = SplitMix::new(8);
        for trial in 0..20 {
            let vecs: Vec<Vec<f32>> = (0..25)
                .map(|_| unit((0..6).map(|_| r.gauss()).collect()))
                .collect();
            let d = distances(&vecs);
            let greedy = greedy_chain(&d, vecs.len(), 0);
            let mut improved = greedy.clone();
            two_opt(&d, vecs.len(), &mut improved, false);
            assert!(
                path_length(&vecs, &improved) <= path_length(&vecs, &greedy) + 1e-5,
                "trial {trial}"
            );
            assert_eq!(improved[0], 0, "the start stays first");
            let mut sorted = improved.clone();
            sorted.sort();
            assert_eq!(sorted, (0..25).collect::<Vec<_>>(), "a permutation");
        }
        // On an arc, 2-opt finds the optimum from a bad start order.
        let xs: Vec<f32> = (0..12).map(|i| i as f32 * 0.1).collect();
        let vecs: Vec<Vec<f32>> = xs.iter().map(|x| vec![x.cos(), x.sin()]).collect();
        let d = distances(&vecs);
        let mut order = vec![0, 5, 2, 9, 1, 11, 3, 7, 4, 10, 6, 8];
        two_opt(&d, vecs.len(), &mut order, false);
        assert_eq!(order, (0..12).collect::<Vec<_>>());
        // With a fixed end, the end stays.
        let mut order = vec![0, 5, 2, 9, 1, 3, 7, 4, 10, 6, 8, 11];
        two_opt(&d, vecs.len(), &mut order, true);
        assert_eq!(*order.last().unwrap(), 11);
        assert_eq!(order, (0..12).collect::<Vec<_>>());
    }

    #[test]
    fn slerp_and_progress() {
        let a = unit(vec![1.0, 0.2, 0.0]);
        let b = unit(vec![0.0, 0.3, 1.0]);
        assert!(distance(&slerp(&a, &b, 0.0), &a).abs() < 1e-6);
        assert!(distance(&slerp(&a, &b, 1.0), &b).abs() < 1e-6);
        let mut last = -1.0;
        for i in 0..=10 {
            let p = slerp(&a, &b, i as f32 / 10.0);
            assert!((math::norm(&p) - 1.0).abs() < 1e-5);
            let t = progress(&p, &a, &b);
            assert!(t > last, "progress increases along the arc");
            last = t;
        }
        assert!((progress(&a, &a, &b)).abs() < 1e-6);
        assert!((progress(&b, &a, &b) - 1.0).abs() < 1e-6);
        // Identical endpoints: interpolation is the point itself, progress 0.
        assert!(distance(&slerp(&a, &a, 0.5), &a).abs() < 1e-6);
        assert_eq!(progress(&b, &a, &a), 0.0);
    }

    #[test]
    fn path_picks_progress_monotonically() {
        // A cloud of songs; waypoints' candidates are their 15 nearest.
        let mut r = SplitMix::new(12);
        let dim = 8;
        let vecs: Vec<Vec<f32>> = (0..400)
            .map(|_| unit((0..dim).map(|_| r.gauss()).collect()))
            .collect();
        let (a, b) = (vecs[0].clone(), vecs[1].clone());
        let m = 10;
        let waypoints: Vec<Vec<usize>> = (1..=m)
            .map(|i| {
                let p = slerp(&a, &b, i as f32 / (m + 1) as f32);
                let mut idx: Vec<usize> = (2..vecs.len()).collect();
                idx.sort_by(|&x, &y| math::dot(&vecs[y], &p).total_cmp(&math::dot(&vecs[x], &p)));
                idx.truncate(15);
                idx
            })
            .collect();
        let picks = pick_path(&a, &b, &vecs, &waypoints, &|_, _| true);
        assert!(
            picks.len() >= m - 1,
            "almost every waypoint gets a song: {picks:?}"
        );
        let prog: Vec<f32> = picks.iter().map(|&c| progress(&vecs[c], &a, &b)).collect();
        assert!(prog.windows(2).all(|w| w[0] <= w[1]), "{prog:?}");
        assert!(prog[0] < 0.5 && *prog.last().unwrap() > 0.5, "{prog:?}");
        let mut uniq = picks.clone();
        uniq.sort();
        uniq.dedup();
        assert_eq!(uniq.len(), picks.len(), "no song twice");
        // A constraint is honoured: only even candidates.
        let even = pick_path(&a, &b, &vecs, &waypoints, &|c, _| c % 2 == 0);
        assert!(even.iter().all(|c| c % 2 == 0));
    }
}

use super::*;

fn tokens(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| w.to_string()).collect()
}

/// A unit vector along axis `i` of 512, nudged towards axis `j` by `nudge`.
fn embedding(i: usize, j: usize, nudge: f32) -> Vec<f32> {
    let mut v = vec![0.0f32; 512];
    v[i] = 1.0;
    v[j] += nudge;
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter_mut().for_each(|x| *x /= n);
    v
}

const PARAMS: ClusterParams = ClusterParams {
    eps: 0.5,
    min_points: 2,
};

#[test]
fn features_have_unit_length_and_compare_text_and_structure() {
    let a = features(
        &embedding(1, 2, 0.0),
        &tokens(&["seq:cargo test", "seq:edit"]),
    );
    let norm = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() < 1e-5);
    let same = features(
        &embedding(1, 2, 0.0),
        &tokens(&["seq:cargo test", "seq:edit"]),
    );
    assert_eq!(distance(&a, &same), 0.0);
    let unrelated = features(
        &embedding(300, 2, 0.0),
        &tokens(&["seq:npm test", "seq:git diff"]),
    );
    assert!(
        distance(&a, &unrelated) > 1.0,
        "{}",
        distance(&a, &unrelated)
    );
    let other_structure = features(
        &embedding(1, 2, 0.0),
        &tokens(&["seq:npm test", "seq:git diff"]),
    );
    let d = distance(&a, &other_structure);
    assert!(d > PARAMS.eps && d < distance(&a, &unrelated), "{d}");
}

#[test]
fn an_empty_embedding_still_has_structure() {
    let a = features(&[], &tokens(&["fail:cargo test"]));
    let b = features(&[0.0; 16], &tokens(&["fail:cargo test"]));
    assert_eq!(distance(&a, &b), 0.0);
    assert!(a.iter().any(|x| *x != 0.0));
}

#[test]
fn dbscan_finds_blobs_and_leaves_noise() {
    let sig = tokens(&["seq:cargo test"]);
    let blob: Vec<Vec<f32>> = (0..4)
        .map(|k| features(&embedding(1, 2, 0.05 * k as f32), &sig))
        .collect();
    let other: Vec<Vec<f32>> = (0..3)
        .map(|k| {
            features(
                &embedding(100, 101, 0.05 * k as f32),
                &tokens(&["seq:npm test"]),
            )
        })
        .collect();
    let noise = features(&embedding(400, 401, 0.0), &tokens(&["seq:git diff"]));
    let mut points: Vec<&[f32]> = blob.iter().map(Vec::as_slice).collect();
    points.extend(other.iter().map(Vec::as_slice));
    points.push(&noise);
    let labels = dbscan(&points, PARAMS).expect("dbscan");
    assert!(labels[..4].iter().all(|l| l.is_some() && *l == labels[0]));
    assert!(labels[4..7].iter().all(|l| l.is_some() && *l == labels[4]));
    assert_ne!(labels[0], labels[4]);
    assert_eq!(labels[7], None);
}

#[test]
fn bad_parameters_are_refused() {
    let p = features(&[1.0], &[]);
    for bad in [
        ClusterParams {
            eps: 0.0,
            min_points: 2,
        },
        ClusterParams {
            eps: 0.5,
            min_points: 1,
        },
        ClusterParams {
            eps: f32::NAN,
            min_points: 2,
        },
    ] {
        assert!(dbscan(&[&p], bad).is_err(), "{bad:?}");
    }
    assert!(dbscan(&[&[f32::NAN; FEATURE_DIMS][..]], PARAMS).is_err());
}

fn anchor(id: PatternId, support: u32, features: &[f32]) -> Anchor<'_> {
    Anchor {
        id,
        support,
        created_at: Timestamp::from_micros(0),
        features,
    }
}

#[test]
fn candidates_join_the_stored_pattern_they_resemble_and_others_stay_apart() {
    let sig = tokens(&["fail:cargo test", "fix:edit"]);
    let stored = features(&embedding(1, 2, 0.0), &sig);
    let id = PatternId::new();
    let candidates = vec![
        features(&embedding(1, 2, 0.1), &sig),
        features(&embedding(200, 201, 0.0), &tokens(&["fail:npm test"])),
        features(&embedding(300, 301, 0.0), &tokens(&["fail:go test"])),
        features(&embedding(300, 301, 0.05), &tokens(&["fail:go test"])),
    ];
    let anchors = near([anchor(id, 3, &stored)], &candidates, PARAMS.eps);
    assert_eq!(anchors.len(), 1);
    let plan = plan(&anchors, &candidates, PARAMS).expect("plan");
    assert_eq!(plan.join, vec![(0, id)]);
    assert_eq!(plan.new, vec![vec![1], vec![2, 3]]);
    assert!(plan.absorb.is_empty());
}

#[test]
fn singletons_in_a_cluster_are_absorbed_by_the_recurring_pattern() {
    let sig = tokens(&["seq:cargo test", "seq:edit"]);
    let recurring = features(&embedding(1, 2, 0.0), &sig);
    let singleton = features(&embedding(1, 2, 0.15), &sig);
    let (a, b) = (PatternId::new(), PatternId::new());
    let candidates = vec![features(&embedding(1, 2, 0.08), &sig)];
    let anchors = [anchor(a, 5, &recurring), anchor(b, 1, &singleton)];
    let plan = plan(&anchors, &candidates, PARAMS).expect("plan");
    assert_eq!(plan.join, vec![(0, a)]);
    assert_eq!(plan.absorb, vec![(b, a)]);
    assert!(plan.new.is_empty());
}

#[test]
fn two_recurring_patterns_are_never_merged() {
    let sig = tokens(&["seq:cargo test", "seq:edit"]);
    let left = features(&embedding(1, 2, 0.0), &sig);
    let right = features(&embedding(1, 2, 0.3), &sig);
    let (a, b) = (PatternId::new(), PatternId::new());
    let candidates = vec![features(&embedding(1, 2, 0.02), &sig)];
    let anchors = [anchor(a, 4, &left), anchor(b, 4, &right)];
    let plan = plan(&anchors, &candidates, PARAMS).expect("plan");
    assert_eq!(plan.join, vec![(0, a)], "the nearer one");
    assert!(plan.absorb.is_empty());
}

#[test]
fn repeated_points_count_as_often_as_they_occur() {
    let sig = tokens(&["seq:cargo test"]);
    let p = features(&embedding(1, 2, 0.0), &sig);
    let far = features(&embedding(300, 301, 0.0), &tokens(&["seq:npm test"]));
    let three = ClusterParams {
        eps: 0.5,
        min_points: 3,
    };
    // Two copies are not dense enough for three points; five are, and all five are in the cluster.
    let labels = dbscan(&[&p, &p, &far], three).expect("dbscan");
    assert_eq!(labels, vec![None, None, None]);
    let labels = dbscan(&[&p, &p, &p, &p, &far, &p], three).expect("dbscan");
    assert!(labels[0].is_some());
    assert!(
        labels
            .iter()
            .enumerate()
            .all(|(i, l)| (i == 4) == l.is_none() && (i == 4 || *l == labels[0]))
    );
}

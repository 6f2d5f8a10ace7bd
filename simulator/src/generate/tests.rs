use super::*;
use crate::scenario::model::StepAction;

fn generated(seed: u64, actions: u32) -> Scenario {
    let mut s = base();
    s.workload = Some(Workload { actions, areas: Area::ALL.to_vec() });
    expanded(&s, seed).into_owned()
}

#[test]
fn the_same_seed_draws_the_same_workload() {
    let (a, b) = (generated(42, 12), generated(42, 12));
    let text = |s: &Scenario| crate::scenario::write::to_yaml(s, "");
    assert_eq!(text(&a), text(&b));
    assert_ne!(text(&a), text(&generated(43, 12)));
}

#[test]
fn an_expanded_scenario_has_no_workload_and_its_steps_in_time_order() {
    let s = generated(7, 20);
    assert!(s.workload.is_none());
    assert!(s.steps.windows(2).all(|w| w[0].at <= w[1].at));
    assert!(s.steps.iter().all(|st| st.at <= s.duration));
    assert!(s.faults.iter().all(|f| f.until.is_some_and(|u| u.hi <= s.duration)));
}

#[test]
fn every_action_that_makes_steps_is_drawn_and_its_scenario_reads_back_through_the_schema_check() {
    let mut seen = std::collections::BTreeSet::new();
    for seed in 0..300 {
        let s = generated(seed, 8);
        let text = crate::scenario::write::to_yaml(&s, "generated");
        let back =
            crate::scenario::parse(&text, "generated.yaml").unwrap_or_else(|e| panic!("seed {seed}:\n{e}\n{text}"));
        assert_eq!(back.steps.len(), s.steps.len());
        for step in &s.steps {
            let note = step.note.as_deref().expect("generated steps carry their story");
            seen.extend(VOCABULARY.iter().map(|a| a.name).filter(|n| note.contains(&format!("({n})"))));
        }
    }
    let step_makers = VOCABULARY.iter().filter(|a| matches!(a.area, Area::Schedules | Area::Backups));
    let missing: Vec<_> = step_makers.map(|a| a.name).filter(|n| !seen.contains(n)).collect();
    assert!(missing.is_empty(), "never drawn: {missing:?}");
}

#[test]
fn each_action_adds_something_for_some_seed() {
    for action in VOCABULARY {
        let added = (0..200).any(|seed| {
            let mut d = Draft::new(&base(), &WorldRng::new(seed));
            create_schedule::at(&mut d, std::time::Duration::ZERO);
            let before = (d.steps.len(), d.faults.len(), d.backup_time);
            d.action = 1;
            (action.draw)(&mut d);
            (d.steps.len(), d.faults.len(), d.backup_time) != before
        });
        assert!(added, "{} never changes the workload", action.name);
    }
}

#[test]
fn a_namespace_deletion_is_a_step_of_its_own_kind() {
    let found = (0..400)
        .flat_map(|seed| generated(seed, 10).steps)
        .any(|s| matches!(s.action, StepAction::DeleteNamespace { .. }));
    assert!(found);
}

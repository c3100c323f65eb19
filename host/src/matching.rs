//! Matching: which rules select an event. The one place the data path asks
//! that question.
//!
//! A [`RuleSet`] holds any number of rules' selectors — an EventBridge
//! pattern, a CESQL expression, or both — with all patterns compiled into
//! one [`Matcher`] automaton, so an event is scanned once however many rules
//! a bus has. A bus's dispatcher keeps one with every enabled rule; a rule
//! catching up on its own and a replay keep one with a single rule
//! ([`RuleSet::single`]). Both answer with [`RuleSet::select`], so a rule
//! selects exactly the same events whichever path an event takes.
//!
//! What a pattern sees of an event is its envelope
//! ([`crate::pattern::envelope`]); a CESQL expression sees its attributes.
//! A rule with both selects an event only when both match.

use std::collections::HashMap;

use crate::event::CloudEvent;
use crate::pattern::cesql::Expression;
use crate::pattern::{MatchError, MatchScratch, Matcher, Pattern, RuleId, envelope_json};

/// Rules' selectors, matched together.
#[derive(Default)]
pub struct RuleSet {
    matcher: Matcher,
    /// Expressions of the rules that have one.
    cesql: HashMap<RuleId, Expression>,
    /// Rules selected by an expression alone (no pattern).
    cesql_only: Vec<RuleId>,
    scratch: MatchScratch,
    envelope: Vec<u8>,
    hits: Vec<RuleId>,
}

/// How matching one event went, besides the rules it found.
#[derive(Debug, Default)]
pub struct Selection {
    /// A pattern's array-consistency search ran out of its work budget
    /// ([`crate::pattern::MATCH_BUDGET`]); the sub-rules it could not
    /// settle did not match.
    pub budget_exhausted: bool,
    /// The envelope could not be scanned (patterns did not match).
    pub error: Option<MatchError>,
}

impl RuleSet {
    /// An empty set.
    pub fn new() -> RuleSet {
        RuleSet::default()
    }

    /// A set of one rule (id 0).
    pub fn single(pattern: Option<&Pattern>, cesql: Option<&Expression>) -> RuleSet {
        let mut set = RuleSet::new();
        set.put(0, pattern, cesql);
        set
    }

    /// Adds a rule, or replaces its selectors.
    pub fn put(&mut self, id: RuleId, pattern: Option<&Pattern>, cesql: Option<&Expression>) {
        self.remove(id);
        match pattern {
            Some(p) => self.matcher.add(id, p),
            None => self.cesql_only.push(id),
        }
        if let Some(e) = cesql {
            self.cesql.insert(id, e.clone());
        }
    }

    /// Removes a rule.
    pub fn remove(&mut self, id: RuleId) {
        self.matcher.remove(id);
        self.cesql_only.retain(|x| *x != id);
        self.cesql.remove(&id);
    }

    /// Whether the set has no rules.
    pub fn is_empty(&self) -> bool {
        self.matcher.is_empty() && self.cesql_only.is_empty()
    }

    /// Appends to `out` (cleared first) the rules that select `event`.
    pub fn select(&mut self, event: &CloudEvent, out: &mut Vec<RuleId>) -> Selection {
        out.clear();
        let mut selection = Selection::default();
        self.hits.clear();
        if !self.matcher.is_empty() {
            envelope_json(event, &mut self.envelope);
            if let Err(e) =
                self.matcher
                    .matches_json_with(&mut self.scratch, &self.envelope, &mut self.hits)
            {
                selection.error = Some(e);
            }
            selection.budget_exhausted = self.scratch.budget_exhausted();
        }
        self.hits.extend(self.cesql_only.iter().copied());
        for id in self.hits.drain(..) {
            if self.cesql.get(&id).is_none_or(|e| e.matches(event)) {
                out.push(id);
            }
        }
        selection
    }

    /// Whether the set's rules select `event` at all (for a single-rule
    /// set: whether the rule does).
    pub fn selects(&mut self, event: &CloudEvent) -> bool {
        let mut out = Vec::new();
        self.select(event, &mut out);
        !out.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::json::parse_structured;

    fn event(json: &str) -> CloudEvent {
        parse_structured(json.as_bytes()).unwrap().unwrap()
    }

    #[test]
    fn patterns_and_expressions_together() {
        let pattern = Pattern::parse(r#"{"source": ["/shop"]}"#).unwrap();
        let expr = Expression::parse("type = 'created'").unwrap();
        let mut set = RuleSet::new();
        set.put(1, Some(&pattern), None);
        set.put(2, Some(&pattern), Some(&expr));
        set.put(3, None, Some(&expr));
        let mut out = Vec::new();
        set.select(
            &event(r#"{"specversion":"1.0","id":"1","source":"/shop","type":"created"}"#),
            &mut out,
        );
        out.sort();
        assert_eq!(out, [1, 2, 3]);
        set.select(
            &event(r#"{"specversion":"1.0","id":"1","source":"/shop","type":"deleted"}"#),
            &mut out,
        );
        assert_eq!(out, [1]);
        set.remove(1);
        set.select(
            &event(r#"{"specversion":"1.0","id":"1","source":"/shop","type":"deleted"}"#),
            &mut out,
        );
        assert!(out.is_empty());
        let mut one = RuleSet::single(None, Some(&expr));
        assert!(one.selects(&event(
            r#"{"specversion":"1.0","id":"1","source":"/x","type":"created"}"#
        )));
    }
}

//! The CESQL parser and evaluator: any input is an expression or a parse
//! error, and evaluating a parsed expression never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use signalbox::pattern::cesql::Expression;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(expr) = Expression::parse(text) {
        let event = serde_json::json!({
            "specversion": "1.0", "id": "1", "source": "/s", "type": "t",
            "n": 5, "flag": true, "s": "text", "neg": -2147483648i64,
        });
        let _ = expr.evaluate(&event);
        let _ = expr.matches(&event);
        // Printing and re-parsing must give an equivalent expression.
        let again = Expression::parse(&expr.to_string());
        assert!(again.is_ok(), "{} printed as {} which does not parse", text, expr);
    }
});

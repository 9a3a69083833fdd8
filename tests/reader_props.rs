//! Property tests of the reader and evaluator: printed data reads back `equal?`; random
//! bytes never panic the reader; random forms never panic the evaluator (errors are fine).

use std::rc::Rc;

use proptest::prelude::*;
use xln::lang::printer::write_string;
use xln::lang::reader::{read_all, read_one};
use xln::lang::source::add_source;
use xln::lang::{Interp, Limits, Output, Value};

fn atom() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::Int),
        (any::<i64>(), any::<i64>()).prop_map(|(a, b)| {
            let n = num_bigint::BigInt::from(a)
                * num_bigint::BigInt::from(b)
                * num_bigint::BigInt::from(u64::MAX);
            Value::from_bigint(n)
        }),
        (any::<i32>(), 1..1000i64).prop_map(|(n, d)| {
            let r = num_rational::BigRational::new(n.into(), d.into());
            xln::lang::number::from_rational(r)
        }),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::Float),
        any::<bool>().prop_map(Value::Bool),
        any::<char>().prop_map(Value::Char),
        ".*".prop_map(|s: String| Value::string(&s)),
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(|b| Value::bytes(&b)),
        "[a-z!?*<>=/+-][a-z0-9!?*<>=/+.-]{0,10}".prop_map(|s: String| Value::sym(&s)),
        "[a-zA-Z ()#|;\"]{0,8}".prop_map(|s: String| Value::sym(&s)),
        "[a-z][a-z0-9-]{0,8}".prop_map(|s: String| Value::Keyword(xln::lang::symbol::Sym::new(&s))),
        Just(Value::Nil),
    ]
}

fn datum() -> impl Strategy<Value = Value> {
    atom().prop_recursive(4, 64, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::list),
            (
                proptest::collection::vec(inner.clone(), 1..4),
                inner.clone()
            )
                .prop_filter("improper tail", |(_, t)| !matches!(
                    t,
                    Value::Nil | Value::Pair(_)
                ))
                .prop_map(|(items, tail)| Value::list_with_tail(items, tail)),
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::vector),
            proptest::collection::vec((inner.clone(), inner.clone()), 0..4)
                .prop_map(|kv| Value::Map(Rc::new(kv.into_iter().collect()))),
            proptest::collection::vec(inner, 0..5)
                .prop_map(|s| Value::Set(Rc::new(s.into_iter().collect()))),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn printed_data_reads_back_equal(v in datum()) {
        let text = write_string(&v);
        let file = add_source("<prop>", &text);
        let back = read_one(&text, file);
        prop_assert!(back.is_ok(), "could not read back {text}: {:?}", back.err());
        let back = back.unwrap().to_value();
        prop_assert_eq!(&back, &v, "printed as {}", text);
    }

    #[test]
    fn random_bytes_never_panic_the_reader(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let file = add_source("<bytes>", &text);
        let _ = read_all(&text, file);
        let _ = xln::lang::reader::is_incomplete(&text);
    }

    #[test]
    fn sexp_shaped_noise_never_panics_the_reader(text in "[()\\[\\]{}#\"'`,@;|\\\\a-z0-9 .:/x-]{0,120}") {
        let file = add_source("<noise>", &text);
        if let Err(errors) = read_all(&text, file) {
            for e in errors {
                prop_assert!(e.span.is_some(), "read errors carry a span");
                let _ = e.render(false);
            }
        }
    }
}

const HEADS: &[&str] = &[
    "+",
    "-",
    "*",
    "/",
    "quotient",
    "modulo",
    "expt",
    "car",
    "cdr",
    "cons",
    "list",
    "vector",
    "vector-ref",
    "vector-set",
    "hash",
    "hash-ref",
    "hash-set",
    "string-append",
    "substring",
    "string-ref",
    "bytes-ref",
    "subbytes",
    "sort",
    "map",
    "foldl",
    "apply",
    "if",
    "let",
    "lambda",
    "define",
    "match",
    "length",
    "list-ref",
    "take",
    "drop",
    "number->string",
    "string->number",
    "integer->char",
    "sqrt",
    "exact",
    "inexact",
    "keccak256",
    "rlp-encode",
    "rlp-decode",
    "range",
    "iota",
    "make-vector",
    "arithmetic-shift",
    "vector-slice",
    "set-add",
    "raise",
    "error",
    "guard",
    "cond",
    "case",
    "do",
    "quasiquote",
    "unquote",
    "string-split",
    "format",
    "bytes->integer",
    "integer->bytes",
    "hex->bytes",
    "read",
    "eval",
    "assert",
];
const ATOMS: &[&str] = &[
    "0",
    "1",
    "-1",
    "7",
    "1/3",
    "2.5",
    "99999999999999999999999",
    "\"abc\"",
    "\"\"",
    "#x\"00ff\"",
    "'a",
    "'()",
    "#t",
    "#f",
    "#\\a",
    "[1 2 3]",
    "{'a 1}",
    "x",
    "f",
    "'(1 2 3)",
    "(lambda (x) x)",
    "car",
    "+",
    "-5",
    "1000000",
];

fn form() -> impl Strategy<Value = String> {
    let leaf = proptest::sample::select(ATOMS).prop_map(str::to_string);
    leaf.prop_recursive(4, 40, 5, |inner| {
        (
            proptest::sample::select(HEADS),
            proptest::collection::vec(inner, 0..4),
        )
            .prop_map(|(head, args)| format!("({head} {})", args.join(" ")))
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn random_forms_never_panic_the_evaluator(forms in proptest::collection::vec(form(), 1..4)) {
        let limits = Limits { max_depth: 200, step_budget: Some(20_000), ..Limits::default() };
        let mut interp = Interp::new(limits, Output::captured());
        let program = format!("(define x 5) (define (f y) (+ y 1)) {}", forms.join(" "));
        if let Err(e) = interp.eval_source("<fuzz>", &program) {
            let _ = e.render(false);
        }
    }
}

#[test]
fn incomplete_input_is_decided_by_the_reader() {
    use xln::lang::reader::is_incomplete;
    for text in [
        "(+ 1",
        "\"abc",
        "#| open",
        "[1 2",
        "{'a",
        "(define x 1) (display x",
        "(car #\\(",
        "'",
        "(a . ",
    ] {
        assert!(is_incomplete(text), "{text:?} should ask for more input");
    }
    for text in [
        "(+ 1 2)",
        "(a))",
        ")",
        "",
        "42",
        "(car #\\()",
        "#q",
        "(1 . 2 3)",
        "{'a}",
    ] {
        assert!(
            !is_incomplete(text),
            "{text:?} is complete or an error, not incomplete"
        );
    }
}

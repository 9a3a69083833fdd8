//! lang/REFERENCE.md's generated section must equal what the code's own registry of
//! special forms and builtins produces, so a builtin without a doc entry (or a doc entry
//! for something removed) fails here. Regenerate with `XLN_BLESS=1 cargo test --test reference`.

const BEGIN: &str =
    "<!-- BEGIN GENERATED: do not edit; XLN_BLESS=1 cargo test --test reference -->\n";
const END: &str = "<!-- END GENERATED -->\n";

#[test]
fn reference_lists_every_form_and_builtin() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/lang/REFERENCE.md");
    let text = std::fs::read_to_string(path).expect("lang/REFERENCE.md exists");
    let generated = xln::repl::reference_markdown();
    let start = text.find(BEGIN).map(|i| i + BEGIN.len());
    let end = text.find(END);
    let current = match (start, end) {
        (Some(s), Some(e)) if s <= e => &text[s..e],
        _ => "",
    };
    if current != generated {
        if std::env::var_os("XLN_BLESS").is_some() {
            let head = match text.find(BEGIN) {
                Some(i) => &text[..i],
                None => &text[..],
            };
            std::fs::write(path, format!("{head}{BEGIN}{generated}{END}"))
                .expect("write reference");
            return;
        }
        panic!("lang/REFERENCE.md is out of date with the builtins; run XLN_BLESS=1 cargo test --test reference");
    }
}

#[test]
fn every_builtin_and_form_has_a_doc_and_an_example() {
    for (section, table) in xln::lang::builtins::tables() {
        for p in table {
            assert!(
                !p.doc.trim().is_empty(),
                "{section}: `{}` has no doc line",
                p.name
            );
            assert!(
                !p.example.trim().is_empty(),
                "{section}: `{}` has no example",
                p.name
            );
        }
    }
    for name in xln::lang::compiler::SPECIAL_FORMS {
        let doc = xln::lang::docs::special_form_doc(name);
        assert!(
            doc.is_some_and(|d| !d.doc.is_empty() && !d.example.is_empty()),
            "special form `{name}` is undocumented"
        );
    }
}

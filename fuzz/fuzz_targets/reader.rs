//! The reader (`read` of any text): never panics; every datum it reads prints (`write`
//! form) to text that reads back to the same datum, and printing is a fixpoint.
#![no_main]

use libfuzzer_sys::fuzz_target;
use xln::lang::printer::write_string;
use xln::lang::reader::{is_incomplete, read_all, read_one};
use xln::lang::source::FileId;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let file = FileId(0); // spans only; no source registered (no growth per run)
    let _ = is_incomplete(&text);
    let Ok(forms) = read_all(&text, file) else {
        return;
    };
    for form in forms {
        let value = form.to_value();
        let printed = write_string(&value);
        let back = match read_one(&printed, file) {
            Ok(back) => back.to_value(),
            Err(e) => panic!("{printed:?} (printed from {text:?}) does not read back: {e:?}"),
        };
        let reprinted = write_string(&back);
        assert_eq!(
            reprinted, printed,
            "printing is not a fixpoint for {text:?}"
        );
        // NaN is the one datum not equal to itself.
        if !printed.contains("nan") {
            assert_eq!(
                back, value,
                "{text:?} printed as {printed:?} reads back different"
            );
        }
    }
});

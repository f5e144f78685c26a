//! Cooperative interrupt: its own test binary, because the flag lives in the
//! process-wide runtime and would stop other tests' kernels.

use born::prelude::*;

#[test]
fn an_interrupt_stops_a_realize_with_an_error_and_the_engine_goes_on() {
    let x = Tensor::rand([64], DType::F32);
    born::runtime().request_interrupt();
    let e = x
        .exp()
        .try_realize()
        .expect_err("a pending interrupt stops the next kernel");
    assert_eq!(e, Error::Interrupted);
    assert!(e.to_string().contains("interrupted"));
    // The flag is consumed: the same work now runs, and `x` is intact.
    assert!(x.exp().sum_all().item::<f32>() > 64.0);
    born::runtime().request_interrupt();
    assert_eq!(check_interrupt(), Err(Error::Interrupted));
    assert_eq!(check_interrupt(), Ok(()));
}

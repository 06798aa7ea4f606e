//! Unit tests of the engine: inference, accumulation, errors, frozen
//! parameters, deep chains.

use super::*;

#[test]
fn inference_records_no_rules() {
    let tape = GradientTape::<f32>::new();
    let x = tape.constant(&Tensor::ones(&[4]).unwrap());
    let y = x.exp().mul_scalar(2.0).sum();
    assert_eq!(tape.recorded_ops(), 0);
    assert_eq!(y.value().item().unwrap(), 2.0 * 4.0 * 1f32.exp());
}

#[test]
fn reused_variable_accumulates() {
    // y = x·x + x, dy/dx = 2x + 1 = 7 at x = 3
    let tape = GradientTape::<f64>::new();
    let x = tape.watch(&Tensor::scalar(3.0));
    let y = x.mul(&x).unwrap().add(&x).unwrap();
    let g = tape.gradient(&y, [x]).unwrap();
    assert_eq!(g.get(x).unwrap().item().unwrap(), 7.0);
}

#[test]
fn gradient_of_non_scalar_needs_an_output_gradient() {
    let tape = GradientTape::<f32>::new();
    let x = tape.watch(&Tensor::ones(&[2, 3]).unwrap());
    let err = tape.gradient(&x.exp(), [x]).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("gradient: the loss must hold one element, got shape [2, 3]")
    );
    let err = tape
        .gradient_with(&x.exp(), &Tensor::ones(&[3]).unwrap(), [x])
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "gradient_with: shape mismatch, lhs [2, 3], rhs [3]"
    );
}

#[test]
fn operands_on_different_tapes_are_an_error() {
    let (t1, t2) = (GradientTape::<f32>::new(), GradientTape::<f32>::new());
    let a = t1.watch(&Tensor::scalar(1.0));
    let b = t2.watch(&Tensor::scalar(1.0));
    assert_eq!(
        a.add(&b).unwrap_err().to_string(),
        "add: operands are on different tapes"
    );
    assert_eq!(
        t1.gradient(&b, [a]).unwrap_err().to_string(),
        "gradient: operands are on different tapes"
    );
    assert_eq!(
        t1.gradient(&a, [b]).unwrap_err().to_string(),
        "gradient: operands are on different tapes"
    );
}

#[test]
fn frozen_param_is_a_constant() {
    let mut w = Param::new("w", Tensor::scalar(2.0f32));
    w.set_trainable(false);
    let tape = GradientTape::new();
    let y = tape.param(&w).square();
    assert_eq!(tape.recorded_ops(), 0);
    let g = tape.gradient(&y, [&w]).unwrap();
    assert_eq!(g.get(&w).unwrap().item().unwrap(), 0.0);
}

#[test]
fn deep_chain_of_100k_ops_does_not_overflow_the_stack() {
    // y = x + 1 + 1 + … (100,000 times), dy/dx = 1
    let tape = GradientTape::<f32>::new();
    let x = tape.watch(&Tensor::scalar(0.0));
    let mut y = x;
    for _ in 0..100_000 {
        y = y.add_scalar(1.0);
    }
    let g = tape.gradient(&y, [x]).unwrap();
    assert_eq!(g.get(x).unwrap().item().unwrap(), 1.0);
    assert_eq!(y.value().item().unwrap(), 100_000.0);
}

#[test]
fn up_to_three_parents_are_inline_and_more_go_to_the_heap() {
    let tape = GradientTape::<f32>::new();
    let vars: Vec<_> = (0..5)
        .map(|i| tape.watch(&Tensor::scalar(i as f32)))
        .collect();
    let three = Parents::new(&vars[2..]);
    assert!(matches!(three, Parents::Inline { len: 3, .. }));
    assert_eq!(
        (0..4).map(|k| three.get(k)).collect::<Vec<_>>(),
        [Some(2), Some(3), Some(4), None]
    );
    let five = Parents::new(&vars);
    assert!(matches!(five, Parents::Heap(_)));
    assert_eq!(five.get(4), Some(4));
    assert_eq!(five.get(5), None);
    assert_eq!(Parents::NONE.get(0), None);
}

#[test]
fn a_target_listed_twice_gets_its_gradient_twice() {
    // y = 3x: both requests for x get 3, not one 3 and one 0.
    let tape = GradientTape::<f32>::new();
    let x = tape.watch(&Tensor::scalar(2.0));
    let y = x.mul_scalar(3.0);
    let g = tape.gradient(&y, [x, x]).unwrap();
    assert_eq!(g.get(x).unwrap().item().unwrap(), 3.0);
    let w = Param::new("w", Tensor::scalar(2.0f32));
    let tape = GradientTape::new();
    let y = tape.param(&w).mul_scalar(4.0);
    let g = tape.gradient(&y, [&w, &w]).unwrap();
    assert_eq!(g.get(&w).unwrap().item().unwrap(), 4.0);
}

#[test]
fn an_intermediate_target_keeps_its_gradient_after_passing_it_on() {
    // h = 2x, y = h²: dy/dh = 2h = 8 at x = 2, dy/dx = 16.
    let tape = GradientTape::<f64>::new();
    let x = tape.watch(&Tensor::scalar(2.0));
    let h = x.mul_scalar(2.0);
    let y = h.square();
    let g = tape.gradient(&y, [h, x]).unwrap();
    assert_eq!(g.get(h).unwrap().item().unwrap(), 8.0);
    assert_eq!(g.get(x).unwrap().item().unwrap(), 16.0);
}

#[test]
fn tape_ids_are_unique_across_blocks_and_threads() {
    // More tapes than one thread's block of ids, on two threads at once:
    // no id is handed out twice.
    fn ids() -> Vec<u64> {
        let n = 3 * TAPE_ID_BLOCK as usize;
        (0..n).map(|_| GradientTape::<f32>::new().id()).collect()
    }
    let other = std::thread::spawn(ids);
    let mut all = ids();
    all.extend(other.join().expect("no panic"));
    let count = all.len();
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), count);
    // A variable of one tape is foreign to every other.
    let (t1, t2) = (GradientTape::<f32>::new(), GradientTape::<f32>::new());
    assert_ne!(t1.id(), t2.id());
}

#[test]
fn tapes_alive_at_once_keep_their_own_lists() {
    // The thread keeps one set of lists: the first tape takes it, a second
    // tape alive at the same time gets new ones, and whichever is dropped
    // first gives its lists to the next tape. No tape sees another's nodes.
    let x = Tensor::from_vec(vec![1.0f32, 2.0, 3.0], &[3]).unwrap();
    let check = |tape: &GradientTape<f32>, scale: f32| {
        let v = tape.watch(&x);
        let y = v.mul_scalar(scale).mul(&v).unwrap().sum(); // scale·Σx²
        let g = tape.gradient(&y, [v]).unwrap();
        let want: Vec<f32> = [1.0f32, 2.0, 3.0]
            .iter()
            .map(|&x| scale * x + scale * x)
            .collect();
        assert_eq!(g.get(v).unwrap().to_vec(), want);
    };
    let t1 = GradientTape::new();
    let t2 = GradientTape::new();
    check(&t1, 2.0);
    check(&t2, 3.0);
    assert_eq!((t1.len(), t2.len()), (4, 4));
    drop(t1);
    let t3 = GradientTape::new();
    assert!(t3.is_empty());
    check(&t3, 5.0);
    check(&t2, 7.0);
    assert_eq!((t2.len(), t3.len()), (8, 4));
    drop(t2);
    drop(t3);
    let t4 = GradientTape::<f32>::new();
    assert!(t4.is_empty());
    check(&t4, 0.5);
}

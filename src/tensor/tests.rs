use super::*;

#[test]
fn from_vec_rejects_wrong_length_and_names_shape() {
    let err = Tensor::from_vec(vec![1.0f32; 5], &[2, 3]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "from_vec: shape [2, 3] needs 6 elements, got 5"
    );
}

#[test]
fn copy_on_write_leaves_the_other_owner_untouched() {
    let a = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]).unwrap();
    let mut rows = a.slice_rows(1..2).unwrap();
    assert!(rows.shares_storage(&a));
    rows.as_mut_slice()[0] = 9.0;
    assert_eq!(a.to_vec(), vec![1.0, 2.0, 3.0, 4.0]);
    assert_eq!(rows.to_vec(), vec![9.0, 4.0]);
    assert!(!rows.shares_storage(&a));
}

#[test]
fn unique_storage_is_written_in_place() {
    let mut a = Tensor::<f32>::zeros(&[3]).unwrap();
    let before = a.as_slice().as_ptr();
    a.as_mut_slice()[1] = 1.0;
    assert_eq!(a.as_slice().as_ptr(), before);
}

#[test]
fn item_rejects_many_elements() {
    let err = Tensor::<f32>::zeros(&[2, 2]).unwrap().item().unwrap_err();
    assert_eq!(
        err.to_string(),
        "item: expected a tensor with one element, got shape [2, 2]"
    );
}

"""The same values in other memory layouts, shared by the parity tests."""
import numpy as np

LAYOUTS = ["strided", "transposed", "fortran", "reversed", "byteswapped", "readonly",
           "misaligned"]


def relayout(a, how):
    """The same values as `a` (ndim >= 1) in the memory layout `how`."""
    if how == "contiguous":
        return a
    if how == "strided":
        big = np.zeros(a.shape[:-1] + (a.shape[-1] * 3,), dtype=a.dtype)
        big[..., ::3] = a
        return big[..., ::3]
    if how == "transposed":
        return np.ascontiguousarray(a.T).T
    if how == "fortran":
        return np.asfortranarray(a)
    if how == "reversed":
        rev = (slice(None, None, -1),) * a.ndim
        return np.ascontiguousarray(a[rev])[rev]
    if how == "byteswapped":
        return a.astype(a.dtype.newbyteorder("S"))
    if how == "readonly":
        b = a.copy()
        b.flags.writeable = False
        return b
    if how == "misaligned":
        raw = np.zeros(a.nbytes + 1, dtype=np.uint8)
        b = raw[1:].view(a.dtype).reshape(a.shape)
        b[...] = a
        assert not b.flags.aligned or a.itemsize == 1
        return b
    raise AssertionError(how)

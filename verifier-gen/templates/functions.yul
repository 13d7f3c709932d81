// Returns false from the call.
function fail() {
    mstore(0x00, 0)
    return(0x00, 0x20)
}

// Whether (x, y) is a point of y^2 = x^3 + 3 with reduced coordinates
// (this excludes the point at infinity, which halo2's transcript refuses too).
function on_curve(x, y) -> ok {
    let p := {{P}}
    ok := and(lt(x, p), lt(y, p))
    ok := and(ok, eq(mulmod(y, y, p), addmod(mulmod(x, mulmod(x, x, p), p), 3, p)))
}

// Absorbs `len` calldata bytes from `src` after the last hash (or the byte
// 0x01 when there are none) and squeezes a challenge into `dst`.
function squeeze(src, len, dst) {
    let buf := {{TBUF}}
    calldatacopy(add(buf, 0x20), src, len)
    let l := add(0x20, len)
    if iszero(len) {
        mstore8(add(buf, 0x20), 1)
        l := 0x21
    }
    let h := keccak256(buf, l)
    mstore(buf, h)
    mstore(dst, mod(h, {{R}}))
}

// The accumulator at 0x00 += s * (x, y). The point at infinity (0, 0), the
// commitment of an all-zero fixed column, adds nothing and costs no call.
function ec_mul_add(x, y, s) -> ok {
    ok := 1
    if iszero(or(x, y)) { leave }
    mstore(0x40, x)
    mstore(0x60, y)
    mstore(0x80, s)
    ok := staticcall(gas(), 0x07, 0x40, 0x60, 0x40, 0x40)
    ok := and(ok, staticcall(gas(), 0x06, 0x00, 0x80, 0x00, 0x40))
}

// The accumulator at 0x00 += (x, y).
function ec_add(x, y) -> ok {
    mstore(0x40, x)
    mstore(0x60, y)
    ok := staticcall(gas(), 0x06, 0x00, 0x80, 0x00, 0x40)
}

// Inverts the words in [ptr, end) in place (Montgomery's trick, one modexp);
// fails when one of them is zero.
function batch_invert(ptr, end) -> ok {
    let r := {{R}}
    let pp := end
    let acc := 1
    for { let c := ptr } lt(c, end) { c := add(c, 0x20) } {
        acc := mulmod(acc, mload(c), r)
        mstore(pp, acc)
        pp := add(pp, 0x20)
    }
    ok := iszero(iszero(acc))
    mstore(0x00, 0x20)
    mstore(0x20, 0x20)
    mstore(0x40, 0x20)
    mstore(0x60, acc)
    mstore(0x80, sub(r, 2))
    mstore(0xa0, r)
    ok := and(ok, staticcall(gas(), 0x05, 0x00, 0xc0, 0x00, 0x20))
    let inv := mload(0x00)
    // pp points one past the last prefix product.
    for { let c := sub(end, 0x20) } gt(c, ptr) { c := sub(c, 0x20) } {
        pp := sub(pp, 0x20)
        let v := mload(c)
        mstore(c, mulmod(inv, mload(sub(pp, 0x20)), r))
        inv := mulmod(inv, v, r)
    }
    mstore(ptr, inv)
}

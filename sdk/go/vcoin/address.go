package vcoin

import (
	"encoding/hex"
	"strings"

	"golang.org/x/crypto/sha3"
)

// Bech32Prefix is the human-readable part of VCoin addresses.
const Bech32Prefix = "vcoin"

// bech32MaxLen is BIP-173's limit (the node's too: chain/crypto.py).
const bech32MaxLen = 90

// Address is an account: 20 bytes, written vcoin1… (bech32) or 0x… (EIP-55).
// A secp256k1 key's address is ripemd160(sha256(pubkey)); an eth_secp256k1
// key's is keccak256(x‖y)[12:].
type Address [20]byte

// Bech32 is the vcoin1… form.
func (a Address) Bech32() string { return bech32Encode(Bech32Prefix, a[:]) }

// String is the vcoin1… form.
func (a Address) String() string { return a.Bech32() }

// EIP55 is the 0x… form with EIP-55's mixed-case checksum.
func (a Address) EIP55() string { return eip55(a[:]) }

// Hex is the 40 lower-case hex digits, without 0x.
func (a Address) Hex() string { return hex.EncodeToString(a[:]) }

// Bytes returns a copy of the 20 bytes.
func (a Address) Bytes() []byte { return append([]byte(nil), a[:]...) }

// AddressFromBytes takes exactly 20 bytes.
func AddressFromBytes(b []byte) (Address, error) {
	var a Address
	if len(b) != len(a) {
		return a, inputErr(KindBadAddress, "an account address is 20 bytes, got %d", len(b))
	}
	copy(a[:], b)
	return a, nil
}

// ParseAddress reads an address in either form: vcoin1… (bech32, BIP-173,
// checksum checked) or 0x… (40 hex digits; a mixed-case one must carry a
// valid EIP-55 checksum, all-lower and all-upper carry none and are taken as
// they are). Errors are *InputError of kind bad_bech32_checksum,
// bad_bech32_prefix, bad_eip55_checksum or bad_address.
func ParseAddress(text string) (Address, error) {
	s := strings.TrimSpace(text)
	if strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X") {
		return parseHexAddress(s)
	}
	hrp, data, err := bech32Decode(s)
	if err != nil {
		return Address{}, err
	}
	if hrp != Bech32Prefix {
		return Address{}, inputErr(KindBadBech32Prefix, "address %q has prefix %q; VCoin addresses start with %s1", short(s), hrp, Bech32Prefix)
	}
	if len(data) != 20 {
		return Address{}, inputErr(KindBadAddress, "address %q holds %d bytes; an account address is 20", short(s), len(data))
	}
	var a Address
	copy(a[:], data)
	return a, nil
}

// MustParseAddress is ParseAddress for constants; it panics on an error.
func MustParseAddress(text string) Address {
	a, err := ParseAddress(text)
	if err != nil {
		panic(err)
	}
	return a
}

// ToBech32 turns an address in either form into the vcoin1… form.
func ToBech32(text string) (string, error) {
	a, err := ParseAddress(text)
	if err != nil {
		return "", err
	}
	return a.Bech32(), nil
}

// ToEIP55 turns an address in either form into the 0x… form.
func ToEIP55(text string) (string, error) {
	a, err := ParseAddress(text)
	if err != nil {
		return "", err
	}
	return a.EIP55(), nil
}

func short(s string) string { return truncate(s, 100) }

func parseHexAddress(s string) (Address, error) {
	digits := s[2:]
	if len(digits) != 40 {
		return Address{}, inputErr(KindBadAddress, "address %q: 0x is followed by %d characters; an address is 40 hex digits", short(s), len(digits))
	}
	raw, err := hex.DecodeString(digits)
	if err != nil {
		return Address{}, inputErr(KindBadAddress, "address %q is not hex after 0x", short(s))
	}
	lower, upper := strings.ToLower(digits), strings.ToUpper(digits)
	if digits != lower && digits != upper {
		if want := eip55(raw); want[2:] != digits {
			return Address{}, inputErr(KindBadEIP55Checksum, "address %s fails its EIP-55 checksum (the case of its letters); did you mean %s? (check where it came from: a typo in a checksummed address is caught here)", s, want)
		}
	}
	var a Address
	copy(a[:], raw)
	return a, nil
}

func keccak256(data ...[]byte) []byte {
	h := sha3.NewLegacyKeccak256()
	for _, d := range data {
		h.Write(d)
	}
	return h.Sum(nil)
}

func eip55(addr []byte) string {
	lower := hex.EncodeToString(addr)
	h := keccak256([]byte(lower))
	out := []byte(lower)
	for i, c := range out {
		if c >= 'a' && c <= 'f' {
			nibble := h[i/2]
			if i%2 == 0 {
				nibble >>= 4
			}
			if nibble&0x0f >= 8 {
				out[i] = c - 'a' + 'A'
			}
		}
	}
	return "0x" + string(out)
}

// -- bech32 (BIP-173) ---------------------------------------------------------

const bech32Charset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"

var bech32Gen = [5]uint32{0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3}

func bech32Polymod(values []byte) uint32 {
	chk := uint32(1)
	for _, v := range values {
		top := chk >> 25
		chk = (chk&0x1ffffff)<<5 ^ uint32(v)
		for i := 0; i < 5; i++ {
			if (top>>uint(i))&1 == 1 {
				chk ^= bech32Gen[i]
			}
		}
	}
	return chk
}

func hrpExpand(hrp string) []byte {
	out := make([]byte, 0, len(hrp)*2+1)
	for i := 0; i < len(hrp); i++ {
		out = append(out, hrp[i]>>5)
	}
	out = append(out, 0)
	for i := 0; i < len(hrp); i++ {
		out = append(out, hrp[i]&31)
	}
	return out
}

func convertBits(data []byte, from, to uint, pad bool) ([]byte, bool) {
	acc, bits := uint32(0), uint(0)
	maxv := uint32(1)<<to - 1
	var out []byte
	for _, v := range data {
		if uint32(v)>>from != 0 {
			return nil, false
		}
		acc = acc<<from | uint32(v)
		bits += from
		for bits >= to {
			bits -= to
			out = append(out, byte(acc>>bits&maxv))
		}
	}
	if pad {
		if bits > 0 {
			out = append(out, byte(acc<<(to-bits)&maxv))
		}
	} else if bits >= from || acc<<(to-bits)&maxv != 0 {
		return nil, false
	}
	return out, true
}

func bech32Encode(hrp string, data []byte) string {
	five, _ := convertBits(data, 8, 5, true)
	values := append(hrpExpand(hrp), five...)
	values = append(values, 0, 0, 0, 0, 0, 0)
	mod := bech32Polymod(values) ^ 1
	var b strings.Builder
	b.WriteString(hrp)
	b.WriteByte('1')
	for _, v := range five {
		b.WriteByte(bech32Charset[v])
	}
	for i := 0; i < 6; i++ {
		b.WriteByte(bech32Charset[(mod>>uint(5*(5-i)))&31])
	}
	return b.String()
}

func bech32Decode(s string) (string, []byte, error) {
	if len(s) > bech32MaxLen {
		return "", nil, inputErr(KindBadAddress, "address of %d characters: bech32 allows at most %d", len(s), bech32MaxLen)
	}
	if s != strings.ToLower(s) && s != strings.ToUpper(s) {
		return "", nil, inputErr(KindBadAddress, "address %q mixes upper and lower case, which bech32 forbids", short(s))
	}
	s = strings.ToLower(s)
	pos := strings.LastIndexByte(s, '1')
	if pos < 1 || pos+7 > len(s) {
		if s == "" {
			return "", nil, inputErr(KindBadAddress, "the address is empty")
		}
		return "", nil, inputErr(KindBadAddress, "%q is not an address: write vcoin1… or 0x… (40 hex digits)", short(s))
	}
	hrp := s[:pos]
	for i := 0; i < len(hrp); i++ {
		if hrp[i] < 33 || hrp[i] > 126 {
			return "", nil, inputErr(KindBadAddress, "address %q has a character outside ASCII 33..126 in its prefix", short(s))
		}
	}
	values := make([]byte, 0, len(s)-pos-1)
	for i := pos + 1; i < len(s); i++ {
		v := strings.IndexByte(bech32Charset, s[i])
		if v < 0 {
			return "", nil, inputErr(KindBadAddress, "address %q has %q, which is not a bech32 character (no 1, b, i or o after the separator)", short(s), s[i])
		}
		values = append(values, byte(v))
	}
	if bech32Polymod(append(hrpExpand(hrp), values...)) != 1 {
		return hrp, nil, inputErr(KindBadBech32Checksum, "address %s fails its bech32 checksum: a character is wrong or missing (copy it again)", s)
	}
	data, ok := convertBits(values[:len(values)-6], 5, 8, false)
	if !ok {
		return hrp, nil, inputErr(KindBadAddress, "address %q has invalid padding", short(s))
	}
	return hrp, data, nil
}

package vcoin

import (
	"math/big"
	"regexp"
	"strings"
)

// Amounts. The chain counts avcn (10^-18 VCN) as integers that may pass
// 2^64, so amounts are *big.Int here and decimal strings on the wire. People
// write "1.5VCN" or "1500000000000000000avcn"; both parse to the same avcn.
const (
	Denom        = "avcn"
	DisplayDenom = "VCN"
	Decimals     = 18
)

var (
	unit      = new(big.Int).Exp(big.NewInt(10), big.NewInt(Decimals), nil)
	maxAmount = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 256), big.NewInt(1))
	digitsRe  = regexp.MustCompile(`^[0-9]{1,78}$`)
	coinRe    = regexp.MustCompile(`^([0-9]{1,78})(?:\.([0-9]{1,78}))?\s*([a-zA-Z][a-zA-Z0-9/:._-]{0,127})$`)
)

// MaxAmount is 2^256-1 avcn, the most the chain represents.
func MaxAmount() *big.Int { return new(big.Int).Set(maxAmount) }

// ParseAmount reads an amount as a user types it and returns avcn: "1.5VCN"
// (at most 18 decimals), "1500000000000000000avcn", "2 VCN", or bare digits
// (avcn). Errors are *InputError of kind too_many_decimals or bad_amount.
func ParseAmount(text string) (*big.Int, error) {
	s := strings.TrimSpace(text)
	var n *big.Int
	if digitsRe.MatchString(s) {
		n, _ = new(big.Int).SetString(s, 10)
	} else {
		m := coinRe.FindStringSubmatch(s)
		if m == nil {
			if strings.HasPrefix(s, "-") {
				return nil, inputErr(KindBadAmount, "amount %q is negative; amounts are positive", short(s))
			}
			return nil, inputErr(KindBadAmount, "cannot read amount %q: write e.g. 1.5VCN or 1000avcn (at most 78 digits either side of the point)", short(s))
		}
		whole, frac, denom := m[1], m[2], m[3]
		switch {
		case strings.EqualFold(denom, DisplayDenom):
			if len(frac) > Decimals {
				return nil, inputErr(KindTooManyDecimals, "%s: VCN has at most %d decimals (%d given); 1 avcn = 0.000000000000000001VCN", s, Decimals, len(frac))
			}
			w, _ := new(big.Int).SetString(whole, 10)
			n = w.Mul(w, unit)
			if frac != "" {
				f, _ := new(big.Int).SetString(frac+strings.Repeat("0", Decimals-len(frac)), 10)
				n.Add(n, f)
			}
		case denom == Denom:
			if m[2] != "" || strings.Contains(s, ".") {
				return nil, inputErr(KindBadAmount, "%s: avcn are whole numbers (1 VCN = 10^18 avcn); write the amount in VCN for a fraction", s)
			}
			n, _ = new(big.Int).SetString(whole, 10)
		default:
			return nil, inputErr(KindBadAmount, "%s: unknown denom %q; use VCN or avcn", short(s), denom)
		}
	}
	if n.Cmp(maxAmount) > 0 {
		return nil, inputErr(KindBadAmount, "amount %s avcn is over 2^256-1", n)
	}
	return n, nil
}

// ParsePositiveAmount is ParseAmount refusing zero.
func ParsePositiveAmount(text string) (*big.Int, error) {
	n, err := ParseAmount(text)
	if err != nil {
		return nil, err
	}
	if n.Sign() == 0 {
		return nil, inputErr(KindBadAmount, "amount %q is zero; give a positive amount", text)
	}
	return n, nil
}

// AVCN writes avcn as an amount string ParseAmount reads ("123avcn").
func AVCN(n *big.Int) string { return n.String() + Denom }

// FormatVCN writes avcn as VCN without trailing zeros: 1500000000000000000 -> "1.5VCN".
func FormatVCN(avcn *big.Int) string {
	neg := avcn.Sign() < 0
	a := new(big.Int).Abs(avcn)
	whole, frac := new(big.Int).QuoRem(a, unit, new(big.Int))
	fs := frac.String()
	fs = strings.Repeat("0", Decimals-len(fs)) + fs
	fs = strings.TrimRight(fs, "0")
	out := whole.String()
	if fs != "" {
		out += "." + fs
	}
	if neg {
		out = "-" + out
	}
	return out + DisplayDenom
}

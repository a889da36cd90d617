package vcoin

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	_ "embed"
	"fmt"
	"math/big"
	"strings"

	"golang.org/x/text/unicode/norm"
)

// BIP-39 with the English word list (english.txt, sha256 2f5eed53…24dbda,
// the list of the BIP).

//go:embed english.txt
var englishTxt string

var (
	wordList  = strings.Fields(englishTxt)
	wordIndex = func() map[string]int {
		m := make(map[string]int, len(wordList))
		for i, w := range wordList {
			m[w] = i
		}
		return m
	}()
)

// NewMnemonic returns fresh words from the system's randomness: 24 words for
// 256 bits of entropy (what vcoind keys add makes), 12 for 128. bits is one
// of 128, 160, 192, 224, 256.
func NewMnemonic(bits int) (string, error) {
	if bits < 128 || bits > 256 || bits%32 != 0 {
		return "", inputErr(KindBadInput, "mnemonic entropy is 128, 160, 192, 224 or 256 bits, not %d", bits)
	}
	entropy := make([]byte, bits/8)
	if _, err := rand.Read(entropy); err != nil {
		return "", fmt.Errorf("reading randomness: %w", err)
	}
	return entropyToMnemonic(entropy), nil
}

func entropyToMnemonic(entropy []byte) string {
	sum := sha256.Sum256(entropy)
	csBits := len(entropy) * 8 / 32
	n := new(big.Int).SetBytes(entropy)
	n.Lsh(n, uint(csBits))
	n.Or(n, big.NewInt(int64(sum[0]>>(8-csBits))))
	count := (len(entropy)*8 + csBits) / 11
	words := make([]string, count)
	mask := big.NewInt(2047)
	for i := count - 1; i >= 0; i-- {
		words[i] = wordList[new(big.Int).And(n, mask).Int64()]
		n.Rsh(n, 11)
	}
	return strings.Join(words, " ")
}

// NormalizeMnemonic lowercases the words and joins them with single spaces.
func NormalizeMnemonic(mnemonic string) string {
	return strings.Join(strings.Fields(strings.ToLower(norm.NFKD.String(mnemonic))), " ")
}

// ValidateMnemonic checks the length (12, 15, 18, 21 or 24 words), each word
// against the English list and the checksum; errors are *InputError of kind
// bad_mnemonic_length, bad_mnemonic_word or bad_mnemonic_checksum.
func ValidateMnemonic(mnemonic string) error {
	_, err := mnemonicEntropy(mnemonic)
	return err
}

func mnemonicEntropy(mnemonic string) ([]byte, error) {
	words := strings.Fields(NormalizeMnemonic(mnemonic))
	switch len(words) {
	case 12, 15, 18, 21, 24:
	default:
		return nil, inputErr(KindBadMnemonicLength, "a mnemonic has 12, 15, 18, 21 or 24 words; this one has %d", len(words))
	}
	n := new(big.Int)
	for i, w := range words {
		idx, ok := wordIndex[w]
		if !ok {
			return nil, inputErr(KindBadMnemonicWord, "word %d of the mnemonic, %q, is not in the BIP-39 English word list%s", i+1, short(w), suggest(w))
		}
		n.Lsh(n, 11)
		n.Or(n, big.NewInt(int64(idx)))
	}
	total := len(words) * 11
	csBits := total / 33
	entBytes := (total - csBits) / 8
	cs := new(big.Int).And(n, big.NewInt(int64(1)<<csBits-1)).Int64()
	n.Rsh(n, uint(csBits))
	entropy := n.FillBytes(make([]byte, entBytes))
	sum := sha256.Sum256(entropy)
	if int64(sum[0]>>(8-csBits)) != cs {
		return nil, inputErr(KindBadMnemonicChecksum, "the mnemonic's checksum does not match: a word is wrong or the words are out of order (each is in the list, so check the order and look for a swapped similar word)")
	}
	return entropy, nil
}

// suggest names list words that share the first four letters (BIP-39 words
// are unique in their first four).
func suggest(w string) string {
	if len(w) < 3 {
		return ""
	}
	p := w
	if len(p) > 4 {
		p = p[:4]
	}
	var near []string
	for _, c := range wordList {
		if strings.HasPrefix(c, p) {
			near = append(near, c)
		}
	}
	if len(near) == 0 || len(near) > 4 {
		return ""
	}
	return "; did you mean " + strings.Join(near, " or ") + "?"
}

// MnemonicToSeed is BIP-39's seed: PBKDF2-HMAC-SHA512 over the words (NFKD,
// single-spaced) with salt "mnemonic"+passphrase, 2048 rounds, 64 bytes. The
// mnemonic is validated first.
func MnemonicToSeed(mnemonic, passphrase string) ([]byte, error) {
	if _, err := mnemonicEntropy(mnemonic); err != nil {
		return nil, err
	}
	m := NormalizeMnemonic(mnemonic)
	salt := "mnemonic" + norm.NFKD.String(passphrase)
	return pbkdf2.Key(sha512.New, m, []byte(salt), 2048, 64)
}

package vcoin

import (
	"errors"
	"fmt"
)

// ErrorKind names what was wrong with a value the caller gave. The kinds of
// the shared test vectors (sdk/vectors/README.md, "bad_inputs") are among them.
type ErrorKind string

const (
	KindBadMnemonicChecksum ErrorKind = "bad_mnemonic_checksum"
	KindBadMnemonicWord     ErrorKind = "bad_mnemonic_word"
	KindBadMnemonicLength   ErrorKind = "bad_mnemonic_length"
	KindBadBech32Checksum   ErrorKind = "bad_bech32_checksum"
	KindBadBech32Prefix     ErrorKind = "bad_bech32_prefix"
	KindBadEIP55Checksum    ErrorKind = "bad_eip55_checksum"
	KindBadAddress          ErrorKind = "bad_address"
	KindTooManyDecimals     ErrorKind = "too_many_decimals"
	KindBadAmount           ErrorKind = "bad_amount"
	KindBadKey              ErrorKind = "bad_key"
	KindBadInput            ErrorKind = "bad_input"
)

// InputError is a value refused before anything was sent to a node.
// errors.Is(err, ErrBadMnemonicChecksum) (or any Err* of a kind) tells the
// kinds apart; errors.Is(err, ErrInput) matches every InputError.
type InputError struct {
	Kind ErrorKind
	Msg  string
}

func (e *InputError) Error() string { return e.Msg }

// Is matches a sentinel InputError of the same kind (or ErrInput, of any kind).
func (e *InputError) Is(target error) bool {
	t, ok := target.(*InputError)
	return ok && t.Msg == "" && (t.Kind == "" || t.Kind == e.Kind)
}

func inputErr(kind ErrorKind, format string, args ...any) error {
	return &InputError{Kind: kind, Msg: fmt.Sprintf(format, args...)}
}

// Sentinels for errors.Is.
var (
	ErrInput               = &InputError{}
	ErrBadMnemonicChecksum = &InputError{Kind: KindBadMnemonicChecksum}
	ErrBadMnemonicWord     = &InputError{Kind: KindBadMnemonicWord}
	ErrBadMnemonicLength   = &InputError{Kind: KindBadMnemonicLength}
	ErrBadBech32Checksum   = &InputError{Kind: KindBadBech32Checksum}
	ErrBadBech32Prefix     = &InputError{Kind: KindBadBech32Prefix}
	ErrBadEIP55Checksum    = &InputError{Kind: KindBadEIP55Checksum}
	ErrBadAddress          = &InputError{Kind: KindBadAddress}
	ErrTooManyDecimals     = &InputError{Kind: KindTooManyDecimals}
	ErrBadAmount           = &InputError{Kind: KindBadAmount}
	ErrBadKey              = &InputError{Kind: KindBadKey}

	// ErrNodeUnreachable matches a NodeUnreachableError.
	ErrNodeUnreachable = errors.New("node unreachable")
	// ErrTimeout matches a wait (for a tx, a job) that ran past its deadline.
	ErrTimeout = errors.New("timed out")
)

// NodeUnreachableError: no attempt reached the node (refused connection,
// DNS failure, no answer within the per-attempt timeout), after the bounded
// retries of ClientOptions.
type NodeUnreachableError struct {
	URL      string
	Attempts int
	Err      error
}

func (e *NodeUnreachableError) Error() string {
	return fmt.Sprintf("cannot reach the node at %s after %d attempt(s): %v; is it running?", e.URL, e.Attempts, e.Err)
}

func (e *NodeUnreachableError) Unwrap() error { return e.Err }

func (e *NodeUnreachableError) Is(target error) bool { return target == ErrNodeUnreachable }

// RPCError is a JSON-RPC error answer of the node, or an answer that is not
// JSON-RPC at all.
type RPCError struct {
	Method  string
	Code    int
	Message string
	Data    string
}

func (e *RPCError) Error() string {
	s := e.Method + ": " + e.Message
	if e.Code != 0 {
		s += fmt.Sprintf(" (code %d)", e.Code)
	}
	if e.Data != "" {
		s += ": " + e.Data
	}
	return s
}

// HTTPError is a REST answer with an error status.
type HTTPError struct {
	URL     string
	Status  int
	Body    string
	Message string
}

func (e *HTTPError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = truncate(e.Body, 300)
	}
	return fmt.Sprintf("%s: HTTP %d: %s", e.URL, e.Status, msg)
}

// QueryError: the chain answered a query and refused it (a registered
// codespace and code, and a log that says why).
type QueryError struct {
	Codespace string
	Code      uint32
	Log       string
}

func (e *QueryError) Error() string {
	if e.Codespace != "" {
		return fmt.Sprintf("query refused: %s/%d: %s", e.Codespace, e.Code, e.Log)
	}
	return fmt.Sprintf("query refused: code %d: %s", e.Code, e.Log)
}

// TxFailed: a tx refused in CheckTx (Stage "check": nothing happened) or that
// failed in its block (Stage "deliver": the fee was paid, the sequence used).
type TxFailed struct {
	Hash      string
	Height    int64
	Stage     string
	Codespace string
	Code      uint32
	Log       string
}

func (e *TxFailed) Error() string {
	where := "refused by CheckTx"
	if e.Stage == "deliver" {
		where = fmt.Sprintf("failed in block %d", e.Height)
	}
	return fmt.Sprintf("tx %s %s: %s/%d: %s", e.Hash, where, e.Codespace, e.Code, e.Log)
}

// ArtifactError: an artifact is missing or its bytes do not hash to its name.
type ArtifactError struct{ Msg string }

func (e *ArtifactError) Error() string { return e.Msg }

type timeoutError struct{ msg string }

func (e *timeoutError) Error() string        { return e.msg }
func (e *timeoutError) Is(target error) bool { return target == ErrTimeout }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

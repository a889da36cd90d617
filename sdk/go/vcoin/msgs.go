package vcoin

import (
	"crypto/ed25519"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"regexp"

	bankv1beta1 "cosmossdk.io/api/cosmos/bank/v1beta1"
	basev1beta1 "cosmossdk.io/api/cosmos/base/v1beta1"
	"google.golang.org/protobuf/types/known/anypb"

	jobsv1 "github.com/vcoin/vcoin/sdk/go/gen/vcoin/jobs/v1"
	reputationv1 "github.com/vcoin/vcoin/sdk/go/gen/vcoin/reputation/v1"
	stakingv1 "github.com/vcoin/vcoin/sdk/go/gen/vcoin/staking/v1"
	verificationv1 "github.com/vcoin/vcoin/sdk/go/gen/vcoin/verification/v1"
)

// The messages a wallet or operator sends, built from plain arguments and
// checked before signing. Addresses may be given in either form and are
// written vcoin1…; amounts as "1.5VCN", "1000avcn" or bare avcn digits.
// Types come from gen/ (generated from proto/vcoin/*/v1/tx.proto); MsgSend
// and Coin from cosmossdk.io/api. Any other generated message goes through
// Pack.

// Roles a bond is for.
const (
	RoleWorker    = "worker"
	RoleOracle    = "oracle"
	RoleValidator = "validator"
)

// Verdicts of an attestation.
const (
	VerdictPass = "pass"
	VerdictFail = "fail"
)

var sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)

func hash32(text, what string) (string, error) {
	if !sha256Hex.MatchString(text) {
		return "", inputErr(KindBadInput, "%s must be a sha256 in 64 lower-case hex digits, got %q", what, short(text))
	}
	return text, nil
}

func addr(text, what string) (string, error) {
	a, err := ParseAddress(text)
	if err != nil {
		if ie, ok := err.(*InputError); ok {
			return "", &InputError{Kind: ie.Kind, Msg: what + ": " + ie.Msg}
		}
		return "", err
	}
	return a.Bech32(), nil
}

func coin(amount, what string) (*basev1beta1.Coin, error) {
	n, err := ParsePositiveAmount(amount)
	if err != nil {
		ie := err.(*InputError)
		return nil, &InputError{Kind: ie.Kind, Msg: what + ": " + ie.Msg}
	}
	return &basev1beta1.Coin{Denom: Denom, Amount: n.String()}, nil
}

// MsgSend is bank MsgSend of amount (in avcn once parsed) from → to.
func MsgSend(from, to, amount string) (*anypb.Any, error) {
	f, err := addr(from, "from")
	if err != nil {
		return nil, err
	}
	t, err := addr(to, "to")
	if err != nil {
		return nil, err
	}
	c, err := coin(amount, "amount")
	if err != nil {
		return nil, err
	}
	return Pack(&bankv1beta1.MsgSend{FromAddress: f, ToAddress: t, Amount: []*basev1beta1.Coin{c}})
}

// PostJob describes a job to post. Give exactly one of Input (inline bytes,
// e.g. []byte(`{"prompts": ["…"]}`)) or InputHash (an artifact's sha256).
type PostJob struct {
	Poster    string
	TaskType  string // e.g. "text-generation", "embedding"
	Model     string // a registered model id, e.g. "tiny-lm"
	Input     []byte
	InputHash string
	// Spec is the runtime options as JSON text ({"params": {...}}); SpecJSON
	// marshals a value instead.
	Spec     string
	SpecJSON any
	MaxPrice string // escrowed; "2VCN"
	Priority uint32
	// Windows in blocks; 0 takes the chain's defaults.
	ClaimBlocks, ResultBlocks uint64
	MinGPUMemoryMiB           uint64
	MinGPUCount               uint32
	GPUModel                  string
}

// MsgPostJob posts a job and escrows MaxPrice.
func MsgPostJob(j PostJob) (*anypb.Any, error) {
	poster, err := addr(j.Poster, "poster")
	if err != nil {
		return nil, err
	}
	if (j.Input == nil) == (j.InputHash == "") {
		return nil, inputErr(KindBadInput, "give exactly one of Input (inline) or InputHash (an artifact)")
	}
	if j.InputHash != "" {
		if _, err := hash32(j.InputHash, "InputHash"); err != nil {
			return nil, err
		}
	}
	if j.TaskType == "" || j.Model == "" {
		return nil, inputErr(KindBadInput, "a job needs TaskType and Model")
	}
	price, err := ParsePositiveAmount(j.MaxPrice)
	if err != nil {
		ie := err.(*InputError)
		return nil, &InputError{Kind: ie.Kind, Msg: "MaxPrice: " + ie.Msg}
	}
	spec := j.Spec
	if j.SpecJSON != nil {
		if spec != "" {
			return nil, inputErr(KindBadInput, "give Spec or SpecJSON, not both")
		}
		b, err := json.Marshal(j.SpecJSON)
		if err != nil {
			return nil, inputErr(KindBadInput, "SpecJSON: %v", err)
		}
		spec = string(b)
	}
	if spec != "" && !json.Valid([]byte(spec)) {
		return nil, inputErr(KindBadInput, "Spec is not JSON: %q", short(spec))
	}
	return Pack(&jobsv1.MsgPostJob{
		Poster:          poster,
		TaskType:        j.TaskType,
		Model:           j.Model,
		InputHash:       j.InputHash,
		InlineInput:     j.Input,
		Spec:            spec,
		MaxPrice:        price.String(),
		Priority:        j.Priority,
		ClaimBlocks:     j.ClaimBlocks,
		ResultBlocks:    j.ResultBlocks,
		MinGpuMemoryMib: j.MinGPUMemoryMiB,
		MinGpuCount:     j.MinGPUCount,
		GpuModel:        j.GPUModel,
	})
}

// MsgCancelJob cancels a queued job of the poster (its escrow comes back).
func MsgCancelJob(poster string, jobID uint64) (*anypb.Any, error) {
	p, err := addr(poster, "poster")
	if err != nil {
		return nil, err
	}
	if jobID == 0 {
		return nil, inputErr(KindBadInput, "job id is required (ids start at 1)")
	}
	return Pack(&jobsv1.MsgCancelJob{Poster: p, JobId: jobID})
}

// BondKeys are the keys a first bond registers.
type BondKeys struct {
	// Ed25519PubKey is an oracle's attestation key (32 bytes): required on an
	// oracle's first bond.
	Ed25519PubKey []byte
	// ConsensusPubKey is a validator's CometBFT key (32 bytes): required on a
	// validator's first bond.
	ConsensusPubKey []byte
}

func checkRole(role string) error {
	switch role {
	case RoleWorker, RoleOracle, RoleValidator:
		return nil
	}
	return inputErr(KindBadInput, "role is worker, oracle or validator, not %q", short(role))
}

func key32(b []byte, what string) error {
	if b != nil && len(b) != 32 {
		return inputErr(KindBadKey, "%s is 32 bytes, got %d", what, len(b))
	}
	return nil
}

// MsgBond adds amount to address's bond in role.
func MsgBond(address, role, amount string, keys BondKeys) (*anypb.Any, error) {
	a, err := addr(address, "address")
	if err != nil {
		return nil, err
	}
	if err := checkRole(role); err != nil {
		return nil, err
	}
	c, err := coin(amount, "amount")
	if err != nil {
		return nil, err
	}
	if err := key32(keys.Ed25519PubKey, "the ed25519 key"); err != nil {
		return nil, err
	}
	if err := key32(keys.ConsensusPubKey, "the consensus key"); err != nil {
		return nil, err
	}
	return Pack(&stakingv1.MsgBond{
		Address: a, Role: role, Amount: c, Ed25519Pubkey: keys.Ed25519PubKey, ConsensusPubkey: keys.ConsensusPubKey,
	})
}

// MsgUnbond starts unbonding amount of address's bond in role.
func MsgUnbond(address, role, amount string) (*anypb.Any, error) {
	a, err := addr(address, "address")
	if err != nil {
		return nil, err
	}
	if err := checkRole(role); err != nil {
		return nil, err
	}
	c, err := coin(amount, "amount")
	if err != nil {
		return nil, err
	}
	return Pack(&stakingv1.MsgUnbond{Address: a, Role: role, Amount: c})
}

// Worker is what a worker declares when it registers.
type Worker struct {
	Address       string
	GPUModel      string
	MemoryMiB     uint64
	GPUCount      uint32
	TaskTypes     []string
	Models        []string
	PriceFloor    string // the worker's ask per job
	MaxConcurrent uint32 // jobs at once; 0 means 1
}

// MsgRegisterWorker declares a worker's hardware, task types and models.
func MsgRegisterWorker(w Worker) (*anypb.Any, error) {
	a, err := addr(w.Address, "worker")
	if err != nil {
		return nil, err
	}
	floor, err := ParseAmount(w.PriceFloor)
	if err != nil {
		ie := err.(*InputError)
		return nil, &InputError{Kind: ie.Kind, Msg: "PriceFloor: " + ie.Msg}
	}
	if w.MaxConcurrent == 0 {
		w.MaxConcurrent = 1
	}
	return Pack(&jobsv1.MsgRegisterWorker{
		Worker: a, GpuModel: w.GPUModel, MemoryMib: w.MemoryMiB, GpuCount: w.GPUCount,
		TaskTypes: w.TaskTypes, Models: w.Models, PriceFloor: floor.String(), MaxConcurrent: w.MaxConcurrent,
	})
}

// Attestation is an oracle's verdict on a sampled job.
type Attestation struct {
	Oracle        string
	JobID         uint64
	Verdict       string // "pass" or "fail"
	SimilarityBps uint32 // 0..10000
	EvidenceHash  string // sha256 (hex) of the evidence artifact
	// Signature is the 64-byte ed25519 signature over AttestSignBytes by the
	// oracle key registered with its bond; SignAttestation fills it.
	Signature []byte
}

func (a Attestation) check() error {
	if a.Verdict != VerdictPass && a.Verdict != VerdictFail {
		return inputErr(KindBadInput, "verdict is pass or fail, not %q", short(a.Verdict))
	}
	if a.SimilarityBps > 10000 {
		return inputErr(KindBadInput, "similarity is 0..10000 bps, got %d", a.SimilarityBps)
	}
	if a.JobID == 0 {
		return inputErr(KindBadInput, "job id is required (ids start at 1)")
	}
	_, err := hash32(a.EvidenceHash, "EvidenceHash")
	return err
}

// AttestSignBytes is what an oracle signs (ed25519) when it attests
// (modules/verification/attestation.py): "vcoin/attest/v1" ‖ u8 len ‖ chain id
// ‖ u64 job id ‖ u8 verdict (1 pass, 2 fail) ‖ u16 similarity bps ‖ evidence sha256.
func AttestSignBytes(chainID string, a Attestation) ([]byte, error) {
	if err := a.check(); err != nil {
		return nil, err
	}
	if len(chainID) > 255 {
		return nil, inputErr(KindBadInput, "chain id is over 255 bytes")
	}
	ev, _ := hex.DecodeString(a.EvidenceHash)
	out := append([]byte("vcoin/attest/v1"), byte(len(chainID)))
	out = append(out, chainID...)
	out = binary.BigEndian.AppendUint64(out, a.JobID)
	v := byte(2)
	if a.Verdict == VerdictPass {
		v = 1
	}
	out = append(out, v)
	out = binary.BigEndian.AppendUint16(out, uint16(a.SimilarityBps))
	return append(out, ev...), nil
}

// SignAttestation fills a.Signature with the oracle's ed25519 key.
func SignAttestation(chainID string, a Attestation, oracleKey ed25519.PrivateKey) (Attestation, error) {
	b, err := AttestSignBytes(chainID, a)
	if err != nil {
		return a, err
	}
	a.Signature = ed25519.Sign(oracleKey, b)
	return a, nil
}

// MsgAttest is an oracle's attestation (sign it first: SignAttestation).
func MsgAttest(a Attestation) (*anypb.Any, error) {
	o, err := addr(a.Oracle, "oracle")
	if err != nil {
		return nil, err
	}
	if err := a.check(); err != nil {
		return nil, err
	}
	if len(a.Signature) != ed25519.SignatureSize {
		return nil, inputErr(KindBadInput, "an attestation signature is 64 bytes (ed25519), got %d", len(a.Signature))
	}
	return Pack(&verificationv1.MsgAttest{
		Oracle: o, JobId: a.JobID, Verdict: a.Verdict, SimilarityBps: a.SimilarityBps,
		EvidenceHash: a.EvidenceHash, Signature: a.Signature,
	})
}

// MsgHeartbeat is a worker's or oracle's liveness signal.
func MsgHeartbeat(address string) (*anypb.Any, error) {
	a, err := addr(address, "address")
	if err != nil {
		return nil, err
	}
	return Pack(&reputationv1.MsgHeartbeat{Address: a})
}

// MsgClaimJob is a worker claiming a queued job (what the worker daemon sends).
func MsgClaimJob(worker string, jobID uint64) (*anypb.Any, error) {
	w, err := addr(worker, "worker")
	if err != nil {
		return nil, err
	}
	return Pack(&jobsv1.MsgClaimJob{Worker: w, JobId: jobID})
}

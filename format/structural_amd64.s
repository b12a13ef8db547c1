//go:build !purego

#include "textflag.h"

// func scanBlocksAVX2(data []byte, mask []uint64)
//
// For each whole 64-byte block k of data, writes mask[3k] (C: bytes == ','),
// mask[3k+1] (X: bytes < 0x2D other than ',') and mask[3k+2] (D: bytes
// '0'-'9'). Unsigned compares by min: b <= c iff min(b, c) == b.
TEXT ·scanBlocksAVX2(SB), NOSPLIT, $0-48
	MOVQ data_base+0(FP), SI
	MOVQ data_len+8(FP), CX
	MOVQ mask_base+24(FP), DI
	SHRQ $6, CX
	JZ   done
	MOVQ $0x2c2c2c2c2c2c2c2c, AX
	MOVQ AX, X10
	VPBROADCASTQ X10, Y10 // ',' and the < 0x2D limit
	MOVQ $0xd0d0d0d0d0d0d0d0, AX
	MOVQ AX, X11
	VPBROADCASTQ X11, Y11 // -'0'
	MOVQ $0x0909090909090909, AX
	MOVQ AX, X12
	VPBROADCASTQ X12, Y12 // 9

loop:
	// One page ahead: the hardware prefetcher stops at page boundaries,
	// and the mapped file's first touch is the run's largest memory
	// cost (-8% user CPU on the month, against no prefetch).
	PREFETCHT0 4096(SI)
	VMOVDQU 0(SI), Y0
	VMOVDQU 32(SI), Y1
	VPCMPEQB Y10, Y0, Y2 // C
	VPCMPEQB Y10, Y1, Y3
	VPMINUB  Y10, Y0, Y4 // < 0x2D
	VPCMPEQB Y0, Y4, Y4
	VPMINUB  Y10, Y1, Y5
	VPCMPEQB Y1, Y5, Y5
	VPADDB   Y11, Y0, Y6 // b - '0' <= 9
	VPMINUB  Y12, Y6, Y7
	VPCMPEQB Y6, Y7, Y6
	VPADDB   Y11, Y1, Y8
	VPMINUB  Y12, Y8, Y9
	VPCMPEQB Y8, Y9, Y8
	VPMOVMSKB Y2, AX
	VPMOVMSKB Y3, BX
	SHLQ $32, BX
	ORQ  BX, AX
	VPMOVMSKB Y4, R8
	VPMOVMSKB Y5, R9
	SHLQ $32, R9
	ORQ  R9, R8
	XORQ AX, R8 // C is a subset of < 0x2D: X = that minus C
	VPMOVMSKB Y6, DX
	VPMOVMSKB Y8, R10
	SHLQ $32, R10
	ORQ  R10, DX
	MOVQ AX, 0(DI)
	MOVQ R8, 8(DI)
	MOVQ DX, 16(DI)
	ADDQ $64, SI
	ADDQ $24, DI
	DECQ CX
	JNZ  loop
	VZEROUPPER

done:
	RET

// func scanBlocksAVX512(data []byte, mask []uint64)
//
// scanBlocksAVX2 with 64-byte registers: each compare writes its block's
// bitmap straight into a mask register.
TEXT ·scanBlocksAVX512(SB), NOSPLIT, $0-48
	MOVQ data_base+0(FP), SI
	MOVQ data_len+8(FP), CX
	MOVQ mask_base+24(FP), DI
	SHRQ $6, CX
	JZ   done512
	MOVQ $0x2c2c2c2c2c2c2c2c, AX
	VPBROADCASTQ AX, Z10 // ',' and the < 0x2D limit
	MOVQ $0xd0d0d0d0d0d0d0d0, AX
	VPBROADCASTQ AX, Z11 // -'0'
	MOVQ $0x0909090909090909, AX
	VPBROADCASTQ AX, Z12 // 9

loop512:
	PREFETCHT0 4096(SI)
	VMOVDQU8 0(SI), Z0
	VPCMPEQB Z10, Z0, K1    // C
	VPCMPUB  $2, Z10, Z0, K2 // b <= 0x2C
	VPADDB   Z11, Z0, Z1
	VPCMPUB  $2, Z12, Z1, K3 // b - '0' <= 9
	KMOVQ K1, AX
	KMOVQ K2, BX
	KMOVQ K3, DX
	XORQ AX, BX // C is a subset of < 0x2D: X = that minus C
	MOVQ AX, 0(DI)
	MOVQ BX, 8(DI)
	MOVQ DX, 16(DI)
	ADDQ $64, SI
	ADDQ $24, DI
	DECQ CX
	JNZ  loop512
	VZEROUPPER

done512:
	RET

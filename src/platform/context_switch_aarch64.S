// Goroutine context switch for AArch64 (AAPCS64).
//
// void gocxx_context_switch(void** save_sp, void* load_sp)
//   Saves the callee-saved registers (x19-x28, the frame pointer x29, the link register x30,
//   the low halves d8-d15 of v8-v15) and FPCR on the current stack, stores the stack pointer
//   in *save_sp, switches to load_sp and restores the same set from there. Caller-saved
//   registers are the compiler's business, as for any call. The frame's layout is
//   platform/context_aarch64.hpp's saved_frame. FPCR is written back only when it differs:
//   on some cores a write to it waits for the pipeline to drain.
//
// A fresh context (make_context) holds a frame whose x19 is the argument, x20 the entry
// function and whose x30 is gocxx_context_entry.
    .text
    .globl gocxx_context_switch
    .hidden gocxx_context_switch
    .type gocxx_context_switch,%function
    .p2align 4
gocxx_context_switch:
    .cfi_startproc
    sub sp, sp, #176
    .cfi_def_cfa_offset 176
    mrs x9, fpcr
    str x9, [sp, #0]
    stp d8, d9, [sp, #16]
    stp d10, d11, [sp, #32]
    stp d12, d13, [sp, #48]
    stp d14, d15, [sp, #64]
    stp x19, x20, [sp, #80]
    stp x21, x22, [sp, #96]
    stp x23, x24, [sp, #112]
    stp x25, x26, [sp, #128]
    stp x27, x28, [sp, #144]
    stp x29, x30, [sp, #160]
    .cfi_offset x29, -16
    .cfi_offset x30, -8
    mov x10, sp
    str x10, [x0]
    mov sp, x1
    ldr x10, [sp, #0]
    cmp x9, x10
    b.eq 1f
    msr fpcr, x10
1:
    ldp d8, d9, [sp, #16]
    ldp d10, d11, [sp, #32]
    ldp d12, d13, [sp, #48]
    ldp d14, d15, [sp, #64]
    ldp x19, x20, [sp, #80]
    ldp x21, x22, [sp, #96]
    ldp x23, x24, [sp, #112]
    ldp x25, x26, [sp, #128]
    ldp x27, x28, [sp, #144]
    ldp x29, x30, [sp, #160]
    add sp, sp, #176
    ret
    .cfi_endproc
    .size gocxx_context_switch,.-gocxx_context_switch

    .globl gocxx_context_entry
    .hidden gocxx_context_entry
    .type gocxx_context_entry,%function
    .p2align 4
gocxx_context_entry:
    .cfi_startproc
    .cfi_undefined x30
    mov x0, x19
    blr x20
    brk #0
    .cfi_endproc
    .size gocxx_context_entry,.-gocxx_context_entry

    .section .note.GNU-stack,"",%progbits

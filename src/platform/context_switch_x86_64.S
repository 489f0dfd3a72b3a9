// Goroutine context switch for x86-64 System V.
//
// void gocxx_context_switch(void** save_sp, void* load_sp)
//   Saves the callee-saved registers, MXCSR and the x87 control word on the current stack,
//   stores the stack pointer in *save_sp, switches to load_sp and restores the same set from
//   there. Caller-saved registers are the compiler's business, as for any call.
//
// A fresh context (platform/context_x86_64.hpp: make_context) holds a frame whose r12 is the
// argument, r13 the entry function and whose return address is gocxx_context_entry.
    .text
    .globl gocxx_context_switch
    .hidden gocxx_context_switch
    .type gocxx_context_switch,@function
    .p2align 4
gocxx_context_switch:
    .cfi_startproc
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $8, %rsp
    stmxcsr (%rsp)
    fnstcw 4(%rsp)
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    ldmxcsr (%rsp)
    fldcw 4(%rsp)
    addq $8, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .cfi_endproc
    .size gocxx_context_switch,.-gocxx_context_switch

    .globl gocxx_context_entry
    .hidden gocxx_context_entry
    .type gocxx_context_entry,@function
    .p2align 4
gocxx_context_entry:
    .cfi_startproc
    .cfi_undefined rip
    movq %r12, %rdi
    callq *%r13
    ud2
    .cfi_endproc
    .size gocxx_context_entry,.-gocxx_context_entry

    .section .note.GNU-stack,"",@progbits

// Sum store of the pooled STORE (docs/architecture.md section 5, docs/timing.md section 5.1).
// The last layer's epilogue adds every output word it writes (ROWS channels of one position)
// to the word of its channel slot: S[slot] += z, the first write of a slot in the layer
// (its `seen` bit still clear) writes z itself, so nothing needs clearing but ND flags.
// Read-modify-write in one cycle: an asynchronous read of the written slot (LUT RAM) feeds
// the adders, the sum is written at the clock edge, so a write in cycle t is seen by a write
// in cycle t + 1 to the same slot, and by the write DMA from t + 1 on: the same visibility as
// the epilogue's residual-buffer write of that word.
// The write DMA reads DMA words of RESW bits (LPW = RESW / 32 channels, sign-extended to
// int32): word w is part w mod CH of slot w / CH, CH = 32 / VB. It shares the one read port:
// the STORE starts after the layer's last write, so the port reads the write address while
// `we` is set and the DMA's slot otherwise (one LUT-RAM copy instead of two). Its data comes
// one cycle after the address, as from the residual buffer.
`default_nettype none
module bnn_sumstore #(
    parameter ROWS = 16,
    parameter VB = 16,
    parameter PSB = 22,  // bits of one sum lane: VB + log2(the positions it can sum)
    parameter PSD = 32,  // slots (words of ROWS lanes)
    parameter PSAW = 5,
    parameter RESW = 256,
    parameter RAW = 12
) (
    input wire clk,
    input wire clear,  // a layer starts: every slot unwritten
    input wire we,
    input wire [PSAW-1:0] waddr,
    input wire [ROWS*VB-1:0] wdata,
    input wire [RAW-1:0] raddr,
    output reg [RESW-1:0] rdata
);
    localparam CH = 32 / VB;  // DMA words per slot
    localparam CHW = (CH > 4) ? 3 : (CH > 2) ? 2 : (CH > 1) ? 1 : 0;
    localparam LPW = RESW / 32;  // lanes per DMA word

    reg [ROWS*PSB-1:0] mem [0:PSD-1];
    reg [PSD-1:0] seen;
    wire [PSAW-1:0] rslot;
    wire [ROWS*PSB-1:0] cur = mem[we ? waddr : rslot];
    reg [ROWS*PSB-1:0] nxt;
    integer r;
    always @* begin
        for (r = 0; r < ROWS; r = r + 1)
            nxt[r * PSB +: PSB] = (seen[waddr] ? cur[r * PSB +: PSB] : {PSB{1'b0}}) +
                {{(PSB - VB) {wdata[r * VB + VB - 1]}}, wdata[r * VB +: VB]};
    end
    always @(posedge clk) begin
        if (clear) seen <= {PSD{1'b0}};
        else if (we) seen[waddr] <= 1'b1;
        if (we) mem[waddr] <= nxt;
    end

    // write DMA port: DMA word raddr = (slot, part)
    localparam integer CHM_I = CH - 1;
    localparam [2:0] CHM = CHM_I[2:0];
    /* verilator lint_off UNUSEDSIGNAL */
    wire [RAW-1:0] rsl = raddr >> CHW;  // slots beyond PSD are never read
    /* verilator lint_on UNUSEDSIGNAL */
    assign rslot = rsl[PSAW-1:0];
    wire [2:0] part = raddr[2:0] & CHM;
    wire [ROWS*PSB-1:0] rword = cur;
    reg [RESW-1:0] rpart;
    integer j, k;
    // constant slices only: a CH-to-1 mux per output bit, not a shifter by a variable offset
    always @* begin
        rpart = {RESW{1'b0}};
        for (k = 0; k < CH; k = k + 1)
            if (part == k[2:0])
                for (j = 0; j < LPW; j = j + 1)
                    rpart[j * 32 +: 32] = {{(32 - PSB) {rword[(k * LPW + j) * PSB + PSB - 1]}},
                        rword[(k * LPW + j) * PSB +: PSB]};
    end
    always @(posedge clk) rdata <= rpart;

`ifndef SYNTHESIS
    integer i;
    initial begin
        seen = {PSD{1'b0}};
        for (i = 0; i < PSD; i = i + 1) mem[i] = {(ROWS * PSB) {1'b0}};
    end
`endif
endmodule
`default_nettype wire

// Activation bits: two sets (input and output of the running layer) of nine banks, and with
// INBUF a third, the input set, that only the LOAD writes and only the layers reading the input
// map read (docs/timing.md 4.4), with one write and two read ports (gather, mask unit): a block
// RAM per bank for the gather and a LUT RAM copy for the mask unit (LUT RAM pays per read port),
// both reads registered, so every reader sees the same one-cycle latency.
// A bank word holds BA channels of one position; the bank of input position (y, x)
// is (y mod 3) * 3 + (x mod 3), so every 3x3 window (stride 1 or 2) touches each bank
// exactly once and the gather reads a whole window's channel block per cycle.
// Words are split into LANES lanes of ROWS bits (one epilogue write), each lane a
// true-dual-port block RAM:
//   port A: window gather reads the input set / epilogue or LOAD writes one lane;
//   port B: spatial mask unit reads the input set / centre-bit copy writes a word; during a layer
//           with a 2x2 max-pool (pb_out) the epilogue's reads of the output set's old pooled words
//           (bnn_maxpool.v): such a layer has no predictor, so the mask unit leaves the port alone.
// Port B follows the scanned layer (`mb_set`, `mb_x`): the running layer's sets, or with an early
// scan of the next layer (docs/timing.md 4.5, E6) the running layer's output set, read, and its
// input set, written.
`default_nettype none
module bnn_act_sets #(
    parameter BA = 64,
    parameter ROWS = 16,
    parameter LANES = 4,
    parameter LW = 2,
    parameter AAW = 8,
    parameter ADEPTH = 256,
    parameter INBUF = 0
) (
    input wire clk,
    input wire in_set,
    input wire in_x,  // read the input set (INBUF)
    // input set writes (the LOAD, INBUF)
    input wire wx_en,
    input wire [3:0] wx_bank,
    input wire [AAW-1:0] wx_addr,
    input wire [LW-1:0] wx_lane,
    input wire [ROWS-1:0] wx_data,
    // ... also into set 0 (INBUF, layer 1 leaves the residual buffer alone: a later predicted layer's
    // skipped positions keep these bits); set 0's port A is idle while layer 1 reads the input set
    input wire wx0_en,
    // port A
    input wire [9*AAW-1:0] ga_addr,
    output wire [9*BA-1:0] ga_data,
    input wire wa_en,
    input wire wa_set,
    input wire [3:0] wa_bank,
    input wire [AAW-1:0] wa_addr,
    input wire [LW-1:0] wa_lane,
    input wire [ROWS-1:0] wa_data,
    // port B
    input wire mb_set,  // the scanned layer's input set
    input wire mb_x,  // ... is the input set (INBUF)
    input wire [9*AAW-1:0] mb_addr,
    output wire [9*BA-1:0] mb_data,
    input wire wb_en,
    input wire [3:0] wb_bank,
    input wire [AAW-1:0] wb_addr,
    input wire [BA-1:0] wb_data,
    input wire pb_out  // port B data (mb_data) from the output set: the max-pool's reads
);
    wire [9*BA-1:0] qa0, qa1, qb0, qb1;
    genvar s, b, l;
    generate
        for (s = 0; s < 2; s = s + 1) begin : g_set
            for (b = 0; b < 9; b = b + 1) begin : g_bank
                wire wsel_a = wa_en && (wa_set == s) && (wa_bank == b);
                wire wsel_x = (s == 0) && wx0_en && (wx_bank == b);
                wire wsel_b = wb_en && (mb_set != s) && (wb_bank == b);
                wire [AAW-1:0] adr_a = wsel_a ? wa_addr : wsel_x ? wx_addr : ga_addr[b * AAW +: AAW];
                wire [AAW-1:0] adr_b = wsel_b ? wb_addr : mb_addr[b * AAW +: AAW];
                for (l = 0; l < LANES; l = l + 1) begin : g_lane
                    wire [ROWS-1:0] ra, rb;
                    bnn_ram_tdp #(.W(ROWS), .AW(AAW), .DEPTH(ADEPTH)) u_ram (
                        .clk(clk),
                        .we_a((wsel_a && (wa_lane == l)) || (wsel_x && (wx_lane == l))),
                        .addr_a(adr_a),
                        .wdata_a(wsel_a ? wa_data : wx_data),
                        .rdata_a(ra),
                        .we_b(wsel_b),
                        .addr_b(adr_b),
                        .wdata_b(wb_data[l * ROWS +: ROWS]),
                        .rdata_b(rb)
                    );
                    if (s == 0) begin : g_s0
                        assign qa0[b * BA + l * ROWS +: ROWS] = ra;
                        assign qb0[b * BA + l * ROWS +: ROWS] = rb;
                    end else begin : g_s1
                        assign qa1[b * BA + l * ROWS +: ROWS] = ra;
                        assign qb1[b * BA + l * ROWS +: ROWS] = rb;
                    end
                end
            end
        end
    endgenerate
    wire [9*BA-1:0] qax, qbx;
    generate
        if (INBUF != 0) begin : g_inset
            for (b = 0; b < 9; b = b + 1) begin : g_bank
                wire wsel_x = wx_en && (wx_bank == b);
                // gather reads: one block RAM per bank (lanes by byte-write enables)
                bnn_ram_sdp_lanes #(.W(ROWS), .LANES(LANES), .LW(LW), .AW(AAW), .DEPTH(ADEPTH)) u_ga (
                    .clk(clk), .we(wsel_x), .wlane(wx_lane), .waddr(wx_addr), .wdata(wx_data),
                    .raddr(ga_addr[b * AAW +: AAW]), .rdata(qax[b * BA +: BA])
                );
                // mask-unit reads: a copy in LUT RAM (the block RAM's second port is the write)
                for (l = 0; l < LANES; l = l + 1) begin : g_lane
                    bnn_lutram_reg #(.W(ROWS), .AW(AAW), .DEPTH(ADEPTH)) u_mb (
                        .clk(clk), .we(wsel_x && (wx_lane == l)), .waddr(wx_addr), .wdata(wx_data),
                        .raddr(mb_addr[b * AAW +: AAW]), .rdata(qbx[b * BA + l * ROWS +: ROWS])
                    );
                end
            end
        end else begin : g_noinset
            /* verilator lint_off UNUSEDSIGNAL */
            wire unused_x = &{1'b0, in_x, mb_x, wx_en, wx0_en};
            /* verilator lint_on UNUSEDSIGNAL */
            assign qax = {9 * BA{1'b0}};
            assign qbx = {9 * BA{1'b0}};
        end
    endgenerate
    // The input set does not change while a layer reads it.
    assign ga_data = (INBUF != 0 && in_x) ? qax : in_set ? qa1 : qa0;
    assign mb_data = (INBUF != 0 && mb_x && !pb_out) ? qbx : (mb_set != pb_out) ? qb1 : qb0;
endmodule
`default_nettype wire

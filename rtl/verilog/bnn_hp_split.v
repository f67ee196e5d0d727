// Board-level AXI4 splitter: the accelerator's D-bit master over two D/2-bit HP ports
// (HP0 + HP1 of the Zynq UltraScale+), docs/architecture.md section 6, rtl/README.md.
//
// Plane layout: every buffer lives in DDR as two planes; plane k holds bytes
// [BB*i + (BB/2)*k, BB*i + (BB/2)*(k+1)) of every BB-byte beat i (BB = D/8) of the logical
// image. A core burst of N beats at logical address X becomes the same burst of N half-width
// beats on port k at
//     plane_k(X) = X / 2 + k * PLANE
// (the host places the logical image at twice plane 0's physical address, rtl/host/driver.py),
// so no beat is reordered: R beat i is {port 1 beat i, port 0 beat i}, W beat i is split the
// same way.
//
// Nothing is buffered and no cycle is added when both ports answer in the same cycles:
//  * AR, AW, W: VALID goes to each port at once (it never waits for a READY) with a per-port
//    "accepted" flag; the core's READY rises once both ports have accepted (the core holds
//    its VALID and payload until then, as AXI requires).
//  * R, B: a zero-buffer join. The core sees VALID when both ports have a beat (response);
//    port k's READY is the core's READY and the other port's VALID (a master may make READY
//    depend on VALID), so a port that is ahead waits. RLAST is the AND of both, RRESP and
//    BRESP the worse of the two.
`default_nettype none
module bnn_hp_split #(
    parameter D = 256,  // the core's data width (bits per beat); each port carries D / 2 = 32, 64 or 128
    parameter AXW = 32,  // address bits, core and ports (the core's 32)
    parameter PLANE = 16777216  // bytes from plane 0 to plane 1 in the ports' address space: 4 KiB multiple, < 2 GiB
) (
    input wire clk,
    input wire rst,
    // ---- the core's AXI4 master (this is its slave)
    input wire s_arvalid,
    output wire s_arready,
    /* verilator lint_off UNUSEDSIGNAL */  // bit 0 of a beat-aligned address is always 0
    input wire [AXW-1:0] s_araddr,
    /* verilator lint_on UNUSEDSIGNAL */
    input wire [7:0] s_arlen,
    output wire s_rvalid,
    input wire s_rready,
    output wire [D-1:0] s_rdata,
    output wire s_rlast,
    output wire [1:0] s_rresp,
    input wire s_awvalid,
    output wire s_awready,
    /* verilator lint_off UNUSEDSIGNAL */  // likewise
    input wire [AXW-1:0] s_awaddr,
    /* verilator lint_on UNUSEDSIGNAL */
    input wire [7:0] s_awlen,
    input wire s_wvalid,
    output wire s_wready,
    input wire [D-1:0] s_wdata,
    input wire [D/8-1:0] s_wstrb,
    input wire s_wlast,
    output wire s_bvalid,
    input wire s_bready,
    output wire [1:0] s_bresp,
    // ---- port 0 (HP0): plane 0, the low half of every beat
    output wire m0_arvalid,
    input wire m0_arready,
    output wire [AXW-1:0] m0_araddr,
    output wire [7:0] m0_arlen,
    output wire [2:0] m0_arsize,
    output wire [1:0] m0_arburst,
    input wire m0_rvalid,
    output wire m0_rready,
    input wire [D/2-1:0] m0_rdata,
    input wire m0_rlast,
    input wire [1:0] m0_rresp,
    output wire m0_awvalid,
    input wire m0_awready,
    output wire [AXW-1:0] m0_awaddr,
    output wire [7:0] m0_awlen,
    output wire [2:0] m0_awsize,
    output wire [1:0] m0_awburst,
    output wire m0_wvalid,
    input wire m0_wready,
    output wire [D/2-1:0] m0_wdata,
    output wire [D/16-1:0] m0_wstrb,
    output wire m0_wlast,
    input wire m0_bvalid,
    output wire m0_bready,
    input wire [1:0] m0_bresp,
    // ---- port 1 (HP1): plane 1, the high half of every beat
    output wire m1_arvalid,
    input wire m1_arready,
    output wire [AXW-1:0] m1_araddr,
    output wire [7:0] m1_arlen,
    output wire [2:0] m1_arsize,
    output wire [1:0] m1_arburst,
    input wire m1_rvalid,
    output wire m1_rready,
    input wire [D/2-1:0] m1_rdata,
    input wire m1_rlast,
    input wire [1:0] m1_rresp,
    output wire m1_awvalid,
    input wire m1_awready,
    output wire [AXW-1:0] m1_awaddr,
    output wire [7:0] m1_awlen,
    output wire [2:0] m1_awsize,
    output wire [1:0] m1_awburst,
    output wire m1_wvalid,
    input wire m1_wready,
    output wire [D/2-1:0] m1_wdata,
    output wire [D/16-1:0] m1_wstrb,
    output wire m1_wlast,
    input wire m1_bvalid,
    output wire m1_bready,
    input wire [1:0] m1_bresp
);
    localparam H = D / 2;  // bits per port beat
    localparam [2:0] HSIZE = (H == 32) ? 3'd2 : (H == 64) ? 3'd3 : 3'd4;  // AxSIZE: log2(H / 8)

    // Illegal parameters stop elaboration: no module of this name exists.
    generate
        if (!(H == 32 || H == 64 || H == 128) || AXW != 32 || PLANE % 4096 != 0 || PLANE < 4096
            || PLANE > 32'h7FFF_F000) begin : g_illegal
            bnn_hp_split_illegal_parameters u_stop ();
        end
    endgenerate

    // ---- address channels: each port takes the request on its own; the core's READY once both have
    reg ar_acc0, ar_acc1, aw_acc0, aw_acc1, w_acc0, w_acc1;  // this port took the pending transfer
    wire [AXW-1:0] ar_half = {1'b0, s_araddr[AXW-1:1]};
    wire [AXW-1:0] aw_half = {1'b0, s_awaddr[AXW-1:1]};
    assign m0_arvalid = s_arvalid && !ar_acc0;
    assign m1_arvalid = s_arvalid && !ar_acc1;
    assign s_arready = (ar_acc0 || m0_arready) && (ar_acc1 || m1_arready);
    assign m0_araddr = ar_half;
    assign m1_araddr = ar_half + PLANE[AXW-1:0];
    assign m0_arlen = s_arlen;
    assign m1_arlen = s_arlen;
    assign m0_arsize = HSIZE;
    assign m1_arsize = HSIZE;
    assign m0_arburst = 2'b01;  // INCR
    assign m1_arburst = 2'b01;

    assign m0_awvalid = s_awvalid && !aw_acc0;
    assign m1_awvalid = s_awvalid && !aw_acc1;
    assign s_awready = (aw_acc0 || m0_awready) && (aw_acc1 || m1_awready);
    assign m0_awaddr = aw_half;
    assign m1_awaddr = aw_half + PLANE[AXW-1:0];
    assign m0_awlen = s_awlen;
    assign m1_awlen = s_awlen;
    assign m0_awsize = HSIZE;
    assign m1_awsize = HSIZE;
    assign m0_awburst = 2'b01;
    assign m1_awburst = 2'b01;

    assign m0_wvalid = s_wvalid && !w_acc0;
    assign m1_wvalid = s_wvalid && !w_acc1;
    assign s_wready = (w_acc0 || m0_wready) && (w_acc1 || m1_wready);
    assign m0_wdata = s_wdata[H-1:0];
    assign m1_wdata = s_wdata[D-1:H];
    assign m0_wstrb = s_wstrb[H/8-1:0];
    assign m1_wstrb = s_wstrb[D/8-1:H/8];
    assign m0_wlast = s_wlast;
    assign m1_wlast = s_wlast;

    always @(posedge clk) begin
        if (rst) begin
            ar_acc0 <= 1'b0;
            ar_acc1 <= 1'b0;
            aw_acc0 <= 1'b0;
            aw_acc1 <= 1'b0;
            w_acc0 <= 1'b0;
            w_acc1 <= 1'b0;
        end else begin
            // set when the port takes it while the other has not; cleared with the core's handshake
            ar_acc0 <= s_arvalid && !s_arready && (ar_acc0 || m0_arready);
            ar_acc1 <= s_arvalid && !s_arready && (ar_acc1 || m1_arready);
            aw_acc0 <= s_awvalid && !s_awready && (aw_acc0 || m0_awready);
            aw_acc1 <= s_awvalid && !s_awready && (aw_acc1 || m1_awready);
            w_acc0 <= s_wvalid && !s_wready && (w_acc0 || m0_wready);
            w_acc1 <= s_wvalid && !s_wready && (w_acc1 || m1_wready);
        end
    end

    // ---- R and B: zero-buffer joins
    assign s_rvalid = m0_rvalid && m1_rvalid;
    assign m0_rready = s_rready && m1_rvalid;
    assign m1_rready = s_rready && m0_rvalid;
    assign s_rdata = {m1_rdata, m0_rdata};
    assign s_rlast = m0_rlast && m1_rlast;
    assign s_rresp = (m0_rresp > m1_rresp) ? m0_rresp : m1_rresp;  // SLVERR/DECERR win over OKAY

    assign s_bvalid = m0_bvalid && m1_bvalid;
    assign m0_bready = s_bready && m1_bvalid;
    assign m1_bready = s_bready && m0_bvalid;
    assign s_bresp = (m0_bresp > m1_bresp) ? m0_bresp : m1_bresp;
endmodule
`default_nettype wire

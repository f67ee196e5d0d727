// AXI4-Lite control/status registers and the descriptor store of the layer programme.
// The map (bnn_regmap.vh, generated from rtl/regmap.py): CTRL, STATUS, CYCLES, ID,
// read-only hardware parameters, programme-wide fields, the layer table and the pass
// table (one 32-bit word per field; each field is stored only as wide as the hardware
// uses it, in its own LUT RAM, so tables are write-only), and the layer-end log.
// The sequencer loads one layer's fields into the `cur_*` registers at each layer
// start; the DMA, PE array and epilogue each read the pass fields they need.
// A stream of images (docs/timing.md 9) adds n_images, load_stride and store_stride to the
// programme-wide fields and a DONE log of the first 16 images (LUT RAM, read-only).
`default_nettype none
module bnn_regs #(
    parameter ROWS = 16,
    parameter COLS = 16,
    parameter G = 8,
    parameter BA = 64,
    parameter D = 128,
    parameter BMAX = 16,
    parameter SPARSE = 1,
    parameter IB = 3,
    parameter VB = 16,
    parameter E_MEM = 192,
    parameter MAXL = 32,
    parameter MLW = 5,
    parameter MAXP = 64,
    parameter MPW = 6,
    parameter AXW = 32,
    parameter BTW = 24,
    parameter CW = 8,
    parameter NCW = 4,
    parameter AAW = 8,
    parameter RAW = 12,
    parameter PSW = 12,
    parameter UW = 16,
    parameter BAW = 7,
    parameter WAW = 12,
    parameter GW = 3,
    parameter SW = 13,
    parameter CPW = 8,
    parameter STEM = 0,  // stem unit: the global field stem_off and the parameter port STEM_PRM
    parameter STEM_CH = 64
) (
    input wire clk,
    input wire rst,
    // AXI4-Lite slave
    input wire s_awvalid,
    output wire s_awready,
    input wire [15:0] s_awaddr,
    input wire s_wvalid,
    output wire s_wready,
    input wire [31:0] s_wdata,
    output reg s_bvalid,
    input wire s_bready,
    output wire [1:0] s_bresp,
    input wire s_arvalid,
    output wire s_arready,
    input wire [15:0] s_araddr,
    output reg s_rvalid,
    input wire s_rready,
    output reg [31:0] s_rdata,
    output wire [1:0] s_rresp,
    // control and status
    output reg start_pulse,
    input wire done,
    input wire busy,
    input wire [31:0] cycles,
    // programme-wide fields
    output reg [MLW:0] g_n_layers,
    output reg [MPW:0] g_n_passes,
    output reg [AXW-1:0] g_load_addr,
    output reg [BTW-1:0] g_load_beats,
    output reg [AXW-1:0] g_store_addr,
    output reg [BTW-1:0] g_store_beats,
    output reg [CW-1:0] g_load_h,
    output reg [CW-1:0] g_load_w,
    output reg [NCW-1:0] g_load_nblk,
    output reg [AAW-1:0] g_load_w3n,
    output reg [RAW-1:0] g_load_nwo,
    output reg [RAW:0] g_store_words,
    output reg [15:0] g_n_images,
    output reg [AXW-1:0] g_load_stride,
    output reg [AXW-1:0] g_store_stride,
    output reg [7:0] g_stem_off,
    output reg g_stem_en,  // the LOAD goes through the stem unit; 0: bypassed (docs/timing.md 3.1, ST6)
    // the stem unit's parameter port: each write to STEM_PRM appends 32 bits (low word first), every
    // (D/32)-th completes a beat, offered for one cycle (docs/timing.md 3.1, ST4)
    output wire stem_prm_valid,
    output wire [D-1:0] stem_prm_data,
    // the current layer
    input wire cl_load,
    input wire [MLW-1:0] cl_idx,
    input wire cl_clear,
    output reg cur_k3,
    output reg cur_s2,
    output reg cur_resid,
    output reg cur_mask_en,
    output reg cur_copy,
    output reg cur_swap,
    output reg cur_pool,
    output reg cur_res_wr,
    output reg cur_mpool,  // 2x2 max-pool of the output bits (bnn_maxpool.v)
    output reg [CW-1:0] cur_h_in,
    output reg [CW-1:0] cur_w_in,
    output reg [CW-1:0] cur_h_out,
    output reg [CW-1:0] cur_w_out,
    output reg [NCW-1:0] cur_nblk_in,
    output reg [AAW-1:0] cur_w3n_in,
    output reg [NCW-1:0] cur_nblk_out,
    output reg [AAW-1:0] cur_w3n_out,
    output reg [RAW-1:0] cur_nwo,
    output reg [PSW-1:0] cur_positions,
    output reg [BAW-1:0] cur_cv_last,
    output reg [5:0] cur_shift,
    output reg [MPW-1:0] cur_first_pass,
    output reg [MPW:0] cur_n_pass,
    // the next layer's tile count and mask flag (for the sequencer's pass bookkeeping)
    output wire [UW-1:0] nxt_tiles,
    output wire nxt_mask_en,
    // the next layer's fields, for an early mask scan of it (docs/timing.md 4.5; the table is read at
    // the next layer's index while a layer runs)
    output wire nxt_early,
    output wire nxt_late,  // ... not before the running layer's last gather has ended (E4 b)
    output wire nxt_k3,
    output wire nxt_s2,
    output wire nxt_copy,
    output wire [CW-1:0] nxt_h_in,
    output wire [CW-1:0] nxt_w_in,
    output wire [CW-1:0] nxt_h_out,
    output wire [CW-1:0] nxt_w_out,
    output wire [NCW-1:0] nxt_nblk_in,
    output wire [AAW-1:0] nxt_w3n_in,
    output wire [NCW-1:0] nxt_nblk_out,
    output wire [AAW-1:0] nxt_w3n_out,
    output wire [RAW-1:0] nxt_nwo,
    output wire [PSW-1:0] nxt_positions,
    output wire [BAW-1:0] nxt_cv_last,
    output wire [MPW-1:0] nxt_first_pass,
    output wire [MPW:0] nxt_n_pass,
    // pass table readers
    input wire [MPW-1:0] ar_idx,
    output wire [AXW-1:0] pt_addr,
    output wire [BTW-1:0] pt_beats,
    output wire [MPW:0] pt_need,
    output wire [WAW:0] pt_wbase_r,  // at r_idx
    output wire [WAW:0] pt_wbase_pe,  // at pe_idx
    input wire [MPW-1:0] r_idx,
    output wire [BTW-1:0] pt_wbeats,
    output wire [BTW-1:0] pt_pbeats,
    output wire [BTW-1:0] pt_prbeats,
    output wire [WAW:0] pt_went,
    output wire pt_k3,
    input wire [MPW-1:0] pe_idx,
    output wire [GW:0] pt_k,
    output wire [SW-1:0] pt_steps,
    input wire [MPW-1:0] ep_idx,
    output wire [GW:0] pt_g,
    output wire [RAW-1:0] pt_woff,
    output wire [AAW-1:0] pt_wblk0,
    output wire [CPW-1:0] pt_cpass,
    // layer-end log
    input wire log_we,
    input wire [MLW-1:0] log_idx,
    input wire [31:0] log_data,
    // DONE log of a stream: image n's DONE cycle (n < 16)
    input wire dlog_we,
    input wire [3:0] dlog_idx,
    input wire [31:0] dlog_data
);
/* verilator lint_off UNUSEDPARAM */
// The generated map defines every register; this module decodes all but a few.
`include "bnn_regmap.vh"
/* verilator lint_on UNUSEDPARAM */

    // ------------------------------------------------------------------ AXI4-Lite writes
    wire wr = s_awvalid && s_wvalid && !s_bvalid;
    assign s_awready = wr;
    assign s_wready = wr;
    assign s_bresp = 2'b00;
    wire [15:0] wa = s_awaddr;
    wire [31:0] wd = s_wdata;
    wire wr_low = wr && (wa[15:12] == 4'h0);
    wire wr_layer = wr && (wa >= A_LAYER_BASE) && (wa < A_PASS_BASE);
    wire wr_pass = wr && (wa >= A_PASS_BASE) && (wa < A_LOG_BASE);
    // the tables start on boundaries of their size (rtl/regmap.py), so an entry's index
    // and field are plain bit fields of the address
    wire [MLW-1:0] wl = wa[LAYER_STRIDE_LOG2 +: MLW];
    wire [MPW-1:0] wp = wa[PASS_STRIDE_LOG2 +: MPW];
    wire [3:0] wf = wa[5:2];
    wire wr_glob = wr_low && (wa >= A_GLOBAL_BASE) && (wa < A_GLOBAL_BASE + 4 * N_GLOBAL);
    wire [4:0] gi = wa[6:2] - A_GLOBAL_BASE[6:2];
    always @(posedge clk) begin
        if (rst) begin
            s_bvalid <= 1'b0;
            start_pulse <= 1'b0;
            g_n_layers <= 0;
            g_n_passes <= 0;
            g_load_addr <= 0;
            g_load_beats <= 0;
            g_store_addr <= 0;
            g_store_beats <= 0;
            g_load_h <= 0;
            g_load_w <= 0;
            g_load_nblk <= 0;
            g_load_w3n <= 0;
            g_load_nwo <= 0;
            g_store_words <= 0;
            g_n_images <= 1;
            g_load_stride <= 0;
            g_store_stride <= 0;
            g_stem_off <= 0;
            g_stem_en <= 1'b0;
        end else begin
            if (wr) s_bvalid <= 1'b1;
            else if (s_bready) s_bvalid <= 1'b0;
            start_pulse <= wr_low && (wa == A_CTRL) && wd[CTRL_START_BIT] && !busy;
            if (wr_glob) begin
                case (gi)
                    G_N_LAYERS: g_n_layers <= wd[MLW:0];
                    G_N_PASSES: g_n_passes <= wd[MPW:0];
                    G_LOAD_ADDR: g_load_addr <= wd[AXW-1:0];
                    G_LOAD_BEATS: g_load_beats <= wd[BTW-1:0];
                    G_STORE_ADDR: g_store_addr <= wd[AXW-1:0];
                    G_STORE_BEATS: g_store_beats <= wd[BTW-1:0];
                    G_LOAD_H: g_load_h <= wd[CW-1:0];
                    G_LOAD_W: g_load_w <= wd[CW-1:0];
                    G_LOAD_NBLK: g_load_nblk <= wd[NCW-1:0];
                    G_LOAD_W3N: g_load_w3n <= wd[AAW-1:0];
                    G_LOAD_NWO: g_load_nwo <= wd[RAW-1:0];
                    G_STORE_WORDS: g_store_words <= wd[RAW:0];
                    G_N_IMAGES: g_n_images <= wd[15:0];
                    G_LOAD_STRIDE: g_load_stride <= wd[AXW-1:0];
                    G_STORE_STRIDE: g_store_stride <= wd[AXW-1:0];
                    G_STEM_OFF: g_stem_off <= (STEM != 0) ? wd[7:0] : 8'd0;
                    G_STEM_EN: g_stem_en <= (STEM != 0) && wd[0];
                    default: ;
                endcase
            end
        end
    end

    // stem parameter port: a D-bit shift register filled from the top, so the first word ends lowest
    generate
        if (STEM != 0) begin : g_stem_prm
            localparam NW = D / 32;
            if (D % 32 != 0) begin : g_illegal
                bnn_regs_stem_needs_d_multiple_of_32 u_stop ();
            end
            reg [D-1:0] prm_sh;
            localparam CNW = $clog2(NW + 1);
            /* verilator lint_off WIDTHTRUNC */
            localparam [CNW-1:0] LASTW = NW - 1;  // a count below NW
            /* verilator lint_on WIDTHTRUNC */
            reg [CNW-1:0] prm_cnt;
            reg prm_v;
            wire wr_prm = wr_low && (wa == A_STEM_PRM);
            always @(posedge clk) begin
                if (rst) begin
                    prm_cnt <= 0;
                    prm_v <= 1'b0;
                end else begin
                    prm_v <= wr_prm && (prm_cnt == LASTW);
                    if (wr_prm) prm_cnt <= (prm_cnt == LASTW) ? {CNW{1'b0}} : prm_cnt + 1'b1;
                end
                if (wr_prm) prm_sh <= {wd, prm_sh[D-1:32]};
            end
            assign stem_prm_valid = prm_v;
            assign stem_prm_data = prm_sh;
        end else begin : g_no_stem_prm
            assign stem_prm_valid = 1'b0;
            assign stem_prm_data = {D{1'b0}};
        end
    endgenerate

    // ------------------------------------------------------------------ layer table
    wire [N_FLAGS-1:0] l_flags;
    wire [CW-1:0] l_h_in, l_w_in, l_h_out, l_w_out;
    wire [NCW-1:0] l_nblk_in, l_nblk_out;
    wire [AAW-1:0] l_w3n_in, l_w3n_out;
    wire [RAW-1:0] l_nwo;
    wire [PSW-1:0] l_positions;
    wire [UW-1:0] l_tiles;
    wire [BAW-1:0] l_cv_last;
    wire [5:0] l_shift;
    wire [MPW-1:0] l_first_pass;
    wire [MPW:0] l_n_pass;
    bnn_lutram #(.W(N_FLAGS), .AW(MLW), .DEPTH(MAXL)) u_l_flags (
        .clk(clk), .we(wr_layer && (wf == LF_FLAGS)), .waddr(wl), .wdata(wd[N_FLAGS-1:0]), .raddr(cl_idx), .rdata(l_flags)
    );
    bnn_lutram #(.W(CW), .AW(MLW), .DEPTH(MAXL)) u_l_h_in (
        .clk(clk), .we(wr_layer && (wf == LF_H_IN)), .waddr(wl), .wdata(wd[CW-1:0]), .raddr(cl_idx), .rdata(l_h_in)
    );
    bnn_lutram #(.W(CW), .AW(MLW), .DEPTH(MAXL)) u_l_w_in (
        .clk(clk), .we(wr_layer && (wf == LF_W_IN)), .waddr(wl), .wdata(wd[CW-1:0]), .raddr(cl_idx), .rdata(l_w_in)
    );
    bnn_lutram #(.W(CW), .AW(MLW), .DEPTH(MAXL)) u_l_h_out (
        .clk(clk), .we(wr_layer && (wf == LF_H_OUT)), .waddr(wl), .wdata(wd[CW-1:0]), .raddr(cl_idx), .rdata(l_h_out)
    );
    bnn_lutram #(.W(CW), .AW(MLW), .DEPTH(MAXL)) u_l_w_out (
        .clk(clk), .we(wr_layer && (wf == LF_W_OUT)), .waddr(wl), .wdata(wd[CW-1:0]), .raddr(cl_idx), .rdata(l_w_out)
    );
    bnn_lutram #(.W(NCW), .AW(MLW), .DEPTH(MAXL)) u_l_nblk_in (
        .clk(clk), .we(wr_layer && (wf == LF_NBLK_IN)), .waddr(wl), .wdata(wd[NCW-1:0]), .raddr(cl_idx), .rdata(l_nblk_in)
    );
    bnn_lutram #(.W(AAW), .AW(MLW), .DEPTH(MAXL)) u_l_w3n_in (
        .clk(clk), .we(wr_layer && (wf == LF_W3N_IN)), .waddr(wl), .wdata(wd[AAW-1:0]), .raddr(cl_idx), .rdata(l_w3n_in)
    );
    bnn_lutram #(.W(NCW), .AW(MLW), .DEPTH(MAXL)) u_l_nblk_out (
        .clk(clk), .we(wr_layer && (wf == LF_NBLK_OUT)), .waddr(wl), .wdata(wd[NCW-1:0]), .raddr(cl_idx), .rdata(l_nblk_out)
    );
    bnn_lutram #(.W(AAW), .AW(MLW), .DEPTH(MAXL)) u_l_w3n_out (
        .clk(clk), .we(wr_layer && (wf == LF_W3N_OUT)), .waddr(wl), .wdata(wd[AAW-1:0]), .raddr(cl_idx), .rdata(l_w3n_out)
    );
    bnn_lutram #(.W(RAW), .AW(MLW), .DEPTH(MAXL)) u_l_nwo (
        .clk(clk), .we(wr_layer && (wf == LF_NWO)), .waddr(wl), .wdata(wd[RAW-1:0]), .raddr(cl_idx), .rdata(l_nwo)
    );
    bnn_lutram #(.W(PSW), .AW(MLW), .DEPTH(MAXL)) u_l_positions (
        .clk(clk), .we(wr_layer && (wf == LF_POSITIONS)), .waddr(wl), .wdata(wd[PSW-1:0]), .raddr(cl_idx), .rdata(l_positions)
    );
    bnn_lutram #(.W(UW), .AW(MLW), .DEPTH(MAXL)) u_l_tiles (
        .clk(clk), .we(wr_layer && (wf == LF_TILES)), .waddr(wl), .wdata(wd[UW-1:0]), .raddr(cl_idx), .rdata(l_tiles)
    );
    bnn_lutram #(.W(BAW), .AW(MLW), .DEPTH(MAXL)) u_l_cv_last (
        .clk(clk), .we(wr_layer && (wf == LF_CV_LAST)), .waddr(wl), .wdata(wd[BAW-1:0]), .raddr(cl_idx), .rdata(l_cv_last)
    );
    bnn_lutram #(.W(6), .AW(MLW), .DEPTH(MAXL)) u_l_shift (
        .clk(clk), .we(wr_layer && (wf == LF_SHIFT)), .waddr(wl), .wdata(wd[6-1:0]), .raddr(cl_idx), .rdata(l_shift)
    );
    bnn_lutram #(.W(MPW), .AW(MLW), .DEPTH(MAXL)) u_l_first_pass (
        .clk(clk), .we(wr_layer && (wf == LF_FIRST_PASS)), .waddr(wl), .wdata(wd[MPW-1:0]), .raddr(cl_idx), .rdata(l_first_pass)
    );
    bnn_lutram #(.W(MPW + 1), .AW(MLW), .DEPTH(MAXL)) u_l_n_pass (
        .clk(clk), .we(wr_layer && (wf == LF_N_PASS)), .waddr(wl), .wdata(wd[MPW + 1-1:0]), .raddr(cl_idx), .rdata(l_n_pass)
    );
    assign nxt_tiles = l_tiles;
    assign nxt_mask_en = l_flags[FLAG_MASK_EN];
    assign nxt_early = l_flags[FLAG_EARLY] && l_flags[FLAG_MASK_EN];
    assign nxt_late = l_flags[FLAG_LATE];
    assign nxt_k3 = l_flags[FLAG_K3];
    assign nxt_s2 = l_flags[FLAG_S2];
    assign nxt_copy = l_flags[FLAG_COPY];
    assign nxt_h_in = l_h_in;
    assign nxt_w_in = l_w_in;
    assign nxt_h_out = l_h_out;
    assign nxt_w_out = l_w_out;
    assign nxt_nblk_in = l_nblk_in;
    assign nxt_w3n_in = l_w3n_in;
    assign nxt_nblk_out = l_nblk_out;
    assign nxt_w3n_out = l_w3n_out;
    assign nxt_nwo = l_nwo;
    assign nxt_positions = l_positions;
    assign nxt_cv_last = l_cv_last;
    assign nxt_first_pass = l_first_pass;
    assign nxt_n_pass = l_n_pass;
    always @(posedge clk) begin
        if (rst || cl_clear) begin
            cur_k3 <= 1'b0;
            cur_s2 <= 1'b0;
            cur_resid <= 1'b0;
            cur_mask_en <= 1'b0;
            cur_copy <= 1'b0;
            cur_swap <= 1'b0;
            cur_pool <= 1'b0;
            cur_res_wr <= 1'b0;
            cur_mpool <= 1'b0;
            cur_h_in <= 0;
            cur_w_in <= 0;
            cur_h_out <= 0;
            cur_w_out <= 0;
            cur_nblk_in <= 0;
            cur_w3n_in <= 0;
            cur_nblk_out <= 0;
            cur_w3n_out <= 0;
            cur_nwo <= 0;
            cur_positions <= 0;
            cur_cv_last <= 0;
            cur_shift <= 0;
            cur_first_pass <= 0;
            cur_n_pass <= 0;
        end else if (cl_load) begin
            cur_k3 <= l_flags[FLAG_K3];
            cur_s2 <= l_flags[FLAG_S2];
            cur_resid <= l_flags[FLAG_RESIDUAL];
            cur_mask_en <= l_flags[FLAG_MASK_EN];
            cur_copy <= l_flags[FLAG_COPY];
            cur_swap <= l_flags[FLAG_SWAP];
            cur_pool <= l_flags[FLAG_POOL];
            cur_res_wr <= l_flags[FLAG_RES_WR];
            cur_mpool <= l_flags[FLAG_MAXPOOL];
            cur_h_in <= l_h_in;
            cur_w_in <= l_w_in;
            cur_h_out <= l_h_out;
            cur_w_out <= l_w_out;
            cur_nblk_in <= l_nblk_in;
            cur_w3n_in <= l_w3n_in;
            cur_nblk_out <= l_nblk_out;
            cur_w3n_out <= l_w3n_out;
            cur_nwo <= l_nwo;
            cur_positions <= l_positions;
            cur_cv_last <= l_cv_last;
            cur_shift <= l_shift;
            cur_first_pass <= l_first_pass;
            cur_n_pass <= l_n_pass;
        end
    end

    // ------------------------------------------------------------------ pass table
    bnn_lutram #(.W(AXW), .AW(MPW), .DEPTH(MAXP)) u_p_addr (
        .clk(clk), .we(wr_pass && (wf == PF_ADDR)), .waddr(wp), .wdata(wd[AXW-1:0]), .raddr(ar_idx), .rdata(pt_addr)
    );
    bnn_lutram #(.W(BTW), .AW(MPW), .DEPTH(MAXP)) u_p_beats (
        .clk(clk), .we(wr_pass && (wf == PF_BEATS)), .waddr(wp), .wdata(wd[BTW-1:0]), .raddr(ar_idx), .rdata(pt_beats)
    );
    bnn_lutram #(.W(MPW + 1), .AW(MPW), .DEPTH(MAXP)) u_p_need (
        .clk(clk), .we(wr_pass && (wf == PF_NEED)), .waddr(wp), .wdata(wd[MPW + 1-1:0]), .raddr(ar_idx), .rdata(pt_need)
    );
    bnn_lutram2 #(.W(WAW + 1), .AW(MPW), .DEPTH(MAXP)) u_p_wbase (
        .clk(clk), .we(wr_pass && (wf == PF_WBASE)), .waddr(wp), .wdata(wd[WAW + 1-1:0]),
        .raddr_a(r_idx), .rdata_a(pt_wbase_r), .raddr_b(pe_idx), .rdata_b(pt_wbase_pe)
    );
    bnn_lutram #(.W(BTW), .AW(MPW), .DEPTH(MAXP)) u_p_wbeats (
        .clk(clk), .we(wr_pass && (wf == PF_WEIGHT_BEATS)), .waddr(wp), .wdata(wd[BTW-1:0]), .raddr(r_idx), .rdata(pt_wbeats)
    );
    bnn_lutram #(.W(BTW), .AW(MPW), .DEPTH(MAXP)) u_p_pbeats (
        .clk(clk), .we(wr_pass && (wf == PF_PARAM_BEATS)), .waddr(wp), .wdata(wd[BTW-1:0]), .raddr(r_idx), .rdata(pt_pbeats)
    );
    bnn_lutram #(.W(BTW), .AW(MPW), .DEPTH(MAXP)) u_p_prbeats (
        .clk(clk), .we(wr_pass && (wf == PF_PRED_BEATS)), .waddr(wp), .wdata(wd[BTW-1:0]), .raddr(r_idx), .rdata(pt_prbeats)
    );
    bnn_lutram #(.W(WAW + 1), .AW(MPW), .DEPTH(MAXP)) u_p_went (
        .clk(clk), .we(wr_pass && (wf == PF_WENT)), .waddr(wp), .wdata(wd[WAW + 1-1:0]), .raddr(r_idx), .rdata(pt_went)
    );
    bnn_lutram #(.W(1), .AW(MPW), .DEPTH(MAXP)) u_p_k3 (
        .clk(clk), .we(wr_pass && (wf == PF_K3)), .waddr(wp), .wdata(wd[1-1:0]), .raddr(r_idx), .rdata(pt_k3)
    );
    bnn_lutram #(.W(GW + 1), .AW(MPW), .DEPTH(MAXP)) u_p_k (
        .clk(clk), .we(wr_pass && (wf == PF_K)), .waddr(wp), .wdata(wd[GW + 1-1:0]), .raddr(pe_idx), .rdata(pt_k)
    );
    bnn_lutram #(.W(SW), .AW(MPW), .DEPTH(MAXP)) u_p_steps (
        .clk(clk), .we(wr_pass && (wf == PF_STEPS)), .waddr(wp), .wdata(wd[SW-1:0]), .raddr(pe_idx), .rdata(pt_steps)
    );
    bnn_lutram #(.W(GW + 1), .AW(MPW), .DEPTH(MAXP)) u_p_g (
        .clk(clk), .we(wr_pass && (wf == PF_G)), .waddr(wp), .wdata(wd[GW + 1-1:0]), .raddr(ep_idx), .rdata(pt_g)
    );
    bnn_lutram #(.W(RAW), .AW(MPW), .DEPTH(MAXP)) u_p_woff (
        .clk(clk), .we(wr_pass && (wf == PF_WOFF)), .waddr(wp), .wdata(wd[RAW-1:0]), .raddr(ep_idx), .rdata(pt_woff)
    );
    bnn_lutram #(.W(AAW), .AW(MPW), .DEPTH(MAXP)) u_p_wblk0 (
        .clk(clk), .we(wr_pass && (wf == PF_WBLK0)), .waddr(wp), .wdata(wd[AAW-1:0]), .raddr(ep_idx), .rdata(pt_wblk0)
    );
    bnn_lutram #(.W(CPW), .AW(MPW), .DEPTH(MAXP)) u_p_cpass (
        .clk(clk), .we(wr_pass && (wf == PF_CPASS)), .waddr(wp), .wdata(wd[CPW-1:0]), .raddr(ep_idx), .rdata(pt_cpass)
    );

    // ------------------------------------------------------------------ reads
    wire [31:0] log_q;
    bnn_lutram #(.W(32), .AW(MLW), .DEPTH(MAXL)) u_log (
        .clk(clk), .we(log_we), .waddr(log_idx), .wdata(log_data), .raddr(s_araddr[2 +: MLW]), .rdata(log_q)
    );
    wire [31:0] dlog_q;
    bnn_lutram #(.W(32), .AW(4), .DEPTH(16)) u_dlog (
        .clk(clk), .we(dlog_we), .waddr(dlog_idx), .wdata(dlog_data), .raddr(s_araddr[5:2]), .rdata(dlog_q)
    );
    assign s_arready = !s_rvalid;
    assign s_rresp = 2'b00;
    wire [15:0] ra = s_araddr;
    wire [3:0] hidx = ra[5:2] - A_HW_BASE[5:2];
    wire [4:0] ridx = ra[6:2] - A_GLOBAL_BASE[6:2];
    reg [31:0] hw_word, g_word, rd;
    always @* begin
        case (hidx)
            HW_ROWS: hw_word = ROWS;
            HW_COLS: hw_word = COLS;
            HW_ACC_DEPTH: hw_word = G;
            HW_ACT_WORD_BITS: hw_word = BA;
            HW_DATA_BITS: hw_word = D;
            HW_MAX_BURST_BEATS: hw_word = BMAX;
            HW_SPARSE: hw_word = SPARSE;
            HW_INDEX_BITS: hw_word = IB;
            HW_MAX_LAYERS: hw_word = MAXL;
            HW_MAX_PASSES: hw_word = MAXP;
            HW_VALUE_BITS: hw_word = VB;
            HW_WEIGHT_ENTRY_BITS: hw_word = E_MEM;
            HW_STEM_CHANNELS: hw_word = (STEM != 0) ? STEM_CH : 0;
            default: hw_word = 32'd0;
        endcase
        g_word = 32'd0;
        case (ridx)
            G_N_LAYERS: g_word[MLW:0] = g_n_layers;
            G_N_PASSES: g_word[MPW:0] = g_n_passes;
            G_LOAD_ADDR: g_word[AXW-1:0] = g_load_addr;
            G_LOAD_BEATS: g_word[BTW-1:0] = g_load_beats;
            G_STORE_ADDR: g_word[AXW-1:0] = g_store_addr;
            G_STORE_BEATS: g_word[BTW-1:0] = g_store_beats;
            G_LOAD_H: g_word[CW-1:0] = g_load_h;
            G_LOAD_W: g_word[CW-1:0] = g_load_w;
            G_LOAD_NBLK: g_word[NCW-1:0] = g_load_nblk;
            G_LOAD_W3N: g_word[AAW-1:0] = g_load_w3n;
            G_LOAD_NWO: g_word[RAW-1:0] = g_load_nwo;
            G_STORE_WORDS: g_word[RAW:0] = g_store_words;
            G_N_IMAGES: g_word[15:0] = g_n_images;
            G_LOAD_STRIDE: g_word[AXW-1:0] = g_load_stride;
            G_STORE_STRIDE: g_word[AXW-1:0] = g_store_stride;
            G_STEM_OFF: g_word[7:0] = g_stem_off;
            G_STEM_EN: g_word[0] = g_stem_en;
            default: ;
        endcase
        rd = 32'd0;
        if (ra == A_STATUS) begin
            rd[STATUS_DONE_BIT] = done;
            rd[STATUS_BUSY_BIT] = busy;
        end else if (ra == A_CYCLES) rd = cycles;
        else if (ra == A_ID) rd = ID_MAGIC;
        else if (ra >= A_HW_BASE && ra < A_HW_BASE + 4 * N_HW) rd = hw_word;
        else if (ra >= A_GLOBAL_BASE && ra < A_GLOBAL_BASE + 4 * N_GLOBAL) rd = g_word;
        else if (ra >= A_LOG_BASE && ra < A_LOG_BASE + 4 * MAXL) rd = log_q;
        else if (ra >= A_DONE_BASE && ra < A_DONE_BASE + 4 * N_DONE) rd = dlog_q;
        else rd = 32'd0;
    end
    always @(posedge clk) begin
        if (rst) begin
            s_rvalid <= 1'b0;
            s_rdata <= 32'd0;
        end else if (s_arvalid && s_arready) begin
            s_rvalid <= 1'b1;
            s_rdata <= rd;
        end else if (s_rready) s_rvalid <= 1'b0;
    end
endmodule
`default_nettype wire

// The BNN accelerator (docs/architecture.md section 5), parameterized; rtl/gen.py
// writes a top-level wrapper (bnn_accel) that sets every parameter from a hardware
// configuration.
//
//   AXI HP --> read DMA --+--> weight/index slots (x2) --> index decoder --+
//                         |--> epilogue parameters (x2) ------------------ | --+
//                         |--> predictor (x2) --> spatial mask unit --> active list
//                         +--> residual buffer, activation set 0 (LOAD)  |   |
//                              (with STEM: raw image --> stem unit --> x0 --^)
//   activation bits (2 sets x 9 banks) --> window gather --> window buffers (x2)
//                                         --> PE array (2 accumulator banks) --> epilogue
//   epilogue --> residual buffer, activation bits (other set);  residual buffer --> write DMA
//
// Clock: one (clk), synchronous active-high reset. `start` (or CTRL.start) begins an
// inference; cycle 0 is the cycle in which start is high; `done` rises DONE cycles later.
`default_nettype none
module bnn_core #(
    parameter ROWS = 16,
    parameter COLS = 16,
    parameter CLW = 4,
    parameter G = 8,
    parameter GW = 3,
    parameter ACC_W = 16,
    parameter ACC_S = 16,
    parameter BA = 64,
    parameter BAW = 7,
    parameter BIW = 6,
    parameter LANES = 4,
    parameter LW = 2,
    parameter ADEPTH = 256,
    parameter AAW = 8,
    parameter RDEPTH = 4096,
    parameter RAW = 12,
    parameter VB = 16,
    parameter MB = 16,
    parameter BB = 32,
    parameter RESW = 256,
    parameter D = 128,
    parameter BPR = 2,
    parameter BPRW = 1,
    parameter BMAX = 16,
    parameter O_R = 8,
    parameter ORW = 4,
    parameter O_W = 8,
    parameter OWW = 4,
    parameter AXW = 32,
    parameter BTW = 24,
    parameter IB = 3,
    parameter SPARSE = 1,
    parameter NBW = 3,
    parameter NCW = 4,
    parameter CW = 11,
    parameter PSW = 12,
    parameter UW = 16,
    parameter SW = 13,
    parameter LDEPTH = 1024,
    parameter LAW = 10,
    parameter E_MEM = 192,
    parameter M1 = 3,
    parameter M3 = 1,
    parameter MW = 2,
    parameter CB1 = 192,
    parameter CB3 = 192,
    parameter WGR = 64,
    parameter WFW = 3,
    parameter WAW = 12,
    parameter PW = 768,
    parameter PGR = 128,
    parameter PFW = 4,
    parameter PRW = 576,
    parameter PRGR = 64,
    parameter PRFW = 4,
    parameter CPW = 8,
    parameter MAXL = 32,
    parameter MLW = 5,
    parameter MAXP = 64,
    parameter MPW = 6,
    parameter SLW = 1,  // log2 of the blob slots of the parameter, predictor and threshold memories
    parameter INBUF = 0,  // input buffer: layer 1 overlaps the LOAD (docs/timing.md 4.4, docs/architecture.md 5)
    parameter EARLY = 0,  // early mask scan of the next layer (docs/timing.md 4.5)
    parameter SPLIT = 0,  // split tiles: a tile of <= COLS/2 positions takes two steps per cycle (docs/timing.md 4.2, T3)
    parameter POOL = 0,  // sum store: a pooled STORE writes the last layer's channel sums (docs/timing.md 5)
    parameter PSB = 22,
    parameter PSD = 32,
    parameter PSAW = 5,
    parameter STEM = 0,  // stem unit (bnn_stem.v): the LOAD reads the raw image, the unit delivers x0 (docs/timing.md 3.1)
    parameter STEM_CH = 64,
    parameter STEM_H = 32,
    parameter STEM_W = 32,
    parameter STEM_S = 34
) (
    input wire clk,
    input wire rst,
    input wire start,
    output wire done,
    output wire busy,
    // AXI4-Lite slave (control, status, descriptors)
    input wire s_axil_awvalid,
    output wire s_axil_awready,
    input wire [15:0] s_axil_awaddr,
    input wire s_axil_wvalid,
    output wire s_axil_wready,
    input wire [31:0] s_axil_wdata,
    /* verilator lint_off UNUSEDSIGNAL */
    input wire [3:0] s_axil_wstrb,  // registers are written as whole words
    /* verilator lint_on UNUSEDSIGNAL */
    output wire s_axil_bvalid,
    input wire s_axil_bready,
    output wire [1:0] s_axil_bresp,
    input wire s_axil_arvalid,
    output wire s_axil_arready,
    input wire [15:0] s_axil_araddr,
    output wire s_axil_rvalid,
    input wire s_axil_rready,
    output wire [31:0] s_axil_rdata,
    output wire [1:0] s_axil_rresp,
    // AXI4 master (DDR)
    output wire m_axi_arvalid,
    input wire m_axi_arready,
    output wire [AXW-1:0] m_axi_araddr,
    output wire [7:0] m_axi_arlen,
    output wire [2:0] m_axi_arsize,
    output wire [1:0] m_axi_arburst,
    input wire m_axi_rvalid,
    output wire m_axi_rready,
    input wire [D-1:0] m_axi_rdata,
    input wire m_axi_rlast,
    /* verilator lint_off UNUSEDSIGNAL */
    input wire [1:0] m_axi_rresp,  // DDR errors are not reported (no SLVERR from the HP port)
    /* verilator lint_on UNUSEDSIGNAL */
    output wire m_axi_awvalid,
    input wire m_axi_awready,
    output wire [AXW-1:0] m_axi_awaddr,
    output wire [7:0] m_axi_awlen,
    output wire [2:0] m_axi_awsize,
    output wire [1:0] m_axi_awburst,
    output wire m_axi_wvalid,
    input wire m_axi_wready,
    output wire [D-1:0] m_axi_wdata,
    output wire [D/8-1:0] m_axi_wstrb,
    output wire m_axi_wlast,
    input wire m_axi_bvalid,
    output wire m_axi_bready,
    /* verilator lint_off UNUSEDSIGNAL */
    input wire [1:0] m_axi_bresp  // likewise
    /* verilator lint_on UNUSEDSIGNAL */
);
    localparam LINW = 2 * CW + 4 + AAW;  // active-list entry for the gather
    localparam LOUTW = RAW + 4 + AAW;  // and for the epilogue
    localparam [2:0] AXSIZE = (D == 32) ? 3'd2 : (D == 64) ? 3'd3 : (D == 128) ? 3'd4 : (D == 256) ? 3'd5 : 3'd6;

    assign m_axi_arsize = AXSIZE;
    assign m_axi_arburst = 2'b01;
    assign m_axi_awsize = AXSIZE;
    assign m_axi_awburst = 2'b01;
    assign m_axi_wstrb = {(D / 8) {1'b1}};

    // ------------------------------------------------------------------ registers and sequencer
    wire start_pulse;
    wire start_all = start || start_pulse;
    wire [31:0] cycles;
    wire [MLW:0] g_n_layers;
    wire [MPW:0] g_n_passes;
    wire [AXW-1:0] g_load_addr, g_store_addr;
    wire [BTW-1:0] g_load_beats, g_store_beats;
    wire [CW-1:0] g_load_h, g_load_w;
    wire [NCW-1:0] g_load_nblk;
    wire [AAW-1:0] g_load_w3n;
    wire [RAW-1:0] g_load_nwo;
    wire [RAW:0] g_store_words;
    wire [7:0] g_stem_off;
    wire g_stem_en;
    wire stem_prm_valid;
    wire [D-1:0] stem_prm_data;
    // stream of images (docs/timing.md 9): count, DDR strides, the DONE log
    localparam NIW = 16, DLW = 4;
    wire [NIW-1:0] g_n_images;
    wire [AXW-1:0] g_load_stride, g_store_stride;
    wire img_next, dlog_we, w_left, w_last;
    wire [DLW-1:0] dlog_idx;
    wire [31:0] dlog_data;
    wire layer_init, layer_active, cl_clear, store_init, in_set, in_x, first_l, run_end;
    wire [CW:0] rows_cnt;
    wire [MLW-1:0] cl_idx;
    wire [5:0] cur_shift;
    wire f_k3, f_s2, f_resid, f_mask_reg, f_copy_reg, f_swap, f_pool, f_res_wr, f_mpool;
    wire [CW-1:0] cur_h_in, cur_w_in, cur_h_out, cur_w_out;
    wire [NCW-1:0] cur_nblk_in, cur_nblk_out;
    wire [AAW-1:0] cur_w3n_in, cur_w3n_out;
    wire [RAW-1:0] cur_nwo;
    wire [PSW-1:0] cur_positions;
    wire [UW-1:0] nxt_tiles;
    wire [BAW-1:0] cur_cv_last;
    wire [MPW-1:0] cur_first_pass;
    wire [MPW:0] cur_n_pass;
    wire nxt_mask_en;
    // the next layer's fields (early scan, docs/timing.md 4.5)
    wire nxt_early, nxt_late, nxt_k3, nxt_s2, nxt_copy;
    wire [CW-1:0] nxt_h_in, nxt_w_in, nxt_h_out, nxt_w_out;
    wire [NCW-1:0] nxt_nblk_in, nxt_nblk_out;
    wire [AAW-1:0] nxt_w3n_in, nxt_w3n_out;
    wire [RAW-1:0] nxt_nwo;
    wire [PSW-1:0] nxt_positions;
    wire [BAW-1:0] nxt_cv_last;
    wire [MPW-1:0] nxt_first_pass;
    wire [MPW:0] nxt_n_pass;
    wire [MPW-1:0] ar_idx, r_idx, pe_idx, ep_idx;
    wire [AXW-1:0] pt_addr;
    wire [BTW-1:0] pt_beats, pt_wbeats, pt_pbeats, pt_prbeats;
    wire [WAW:0] pt_went, pt_wbase_r, pt_wbase_pe;
    wire [MPW:0] pt_need;
    wire pt_k3;
    wire [GW:0] pt_k, pt_g;
    wire [SW-1:0] pt_steps;
    wire [RAW-1:0] pt_woff;
    wire [AAW-1:0] pt_wblk0;
    wire [CPW-1:0] pt_cpass;
    wire log_we;
    wire [MLW-1:0] log_idx;
    wire [31:0] log_data;

    wire f_mask = f_mask_reg && (SPARSE != 0);
    wire f_copy = f_copy_reg && (SPARSE != 0);

    bnn_regs #(
        .ROWS(ROWS), .COLS(COLS), .G(G), .BA(BA), .D(D), .BMAX(BMAX), .SPARSE(SPARSE), .IB(IB), .VB(VB),
        .E_MEM(E_MEM), .MAXL(MAXL), .MLW(MLW), .MAXP(MAXP), .MPW(MPW), .AXW(AXW), .BTW(BTW), .CW(CW),
        .NCW(NCW), .AAW(AAW), .RAW(RAW), .PSW(PSW), .UW(UW), .BAW(BAW), .WAW(WAW), .GW(GW), .SW(SW), .CPW(CPW),
        .STEM(STEM), .STEM_CH(STEM_CH)
    ) u_regs (
        .clk(clk), .rst(rst),
        .s_awvalid(s_axil_awvalid), .s_awready(s_axil_awready), .s_awaddr(s_axil_awaddr),
        .s_wvalid(s_axil_wvalid), .s_wready(s_axil_wready), .s_wdata(s_axil_wdata),
        .s_bvalid(s_axil_bvalid), .s_bready(s_axil_bready), .s_bresp(s_axil_bresp),
        .s_arvalid(s_axil_arvalid), .s_arready(s_axil_arready), .s_araddr(s_axil_araddr),
        .s_rvalid(s_axil_rvalid), .s_rready(s_axil_rready), .s_rdata(s_axil_rdata), .s_rresp(s_axil_rresp),
        .start_pulse(start_pulse), .done(done), .busy(busy), .cycles(cycles),
        .g_n_layers(g_n_layers), .g_n_passes(g_n_passes), .g_load_addr(g_load_addr), .g_load_beats(g_load_beats),
        .g_store_addr(g_store_addr), .g_store_beats(g_store_beats), .g_load_h(g_load_h), .g_load_w(g_load_w),
        .g_load_nblk(g_load_nblk), .g_load_w3n(g_load_w3n), .g_load_nwo(g_load_nwo), .g_store_words(g_store_words),
        .g_n_images(g_n_images), .g_load_stride(g_load_stride), .g_store_stride(g_store_stride),
        .g_stem_off(g_stem_off), .g_stem_en(g_stem_en), .stem_prm_valid(stem_prm_valid), .stem_prm_data(stem_prm_data),
        .dlog_we(dlog_we), .dlog_idx(dlog_idx), .dlog_data(dlog_data),
        .cl_load(layer_init), .cl_idx(cl_idx), .cl_clear(cl_clear),
        .cur_k3(f_k3), .cur_s2(f_s2), .cur_resid(f_resid), .cur_mask_en(f_mask_reg), .cur_copy(f_copy_reg),
        .cur_swap(f_swap), .cur_pool(f_pool), .cur_res_wr(f_res_wr), .cur_mpool(f_mpool), .cur_h_in(cur_h_in), .cur_w_in(cur_w_in),
        .cur_h_out(cur_h_out), .cur_w_out(cur_w_out),
        .cur_nblk_in(cur_nblk_in), .cur_w3n_in(cur_w3n_in), .cur_nblk_out(cur_nblk_out), .cur_w3n_out(cur_w3n_out),
        .cur_nwo(cur_nwo), .cur_positions(cur_positions), .cur_cv_last(cur_cv_last),
        .cur_shift(cur_shift), .cur_first_pass(cur_first_pass), .cur_n_pass(cur_n_pass),
        .nxt_tiles(nxt_tiles), .nxt_mask_en(nxt_mask_en),
        .nxt_early(nxt_early), .nxt_late(nxt_late), .nxt_k3(nxt_k3), .nxt_s2(nxt_s2), .nxt_copy(nxt_copy),
        .nxt_h_in(nxt_h_in),
        .nxt_w_in(nxt_w_in), .nxt_h_out(nxt_h_out), .nxt_w_out(nxt_w_out), .nxt_nblk_in(nxt_nblk_in),
        .nxt_w3n_in(nxt_w3n_in), .nxt_nblk_out(nxt_nblk_out), .nxt_w3n_out(nxt_w3n_out), .nxt_nwo(nxt_nwo),
        .nxt_positions(nxt_positions), .nxt_cv_last(nxt_cv_last), .nxt_first_pass(nxt_first_pass),
        .nxt_n_pass(nxt_n_pass),
        .ar_idx(ar_idx), .pt_addr(pt_addr), .pt_beats(pt_beats), .pt_need(pt_need), .pt_wbase_r(pt_wbase_r),
        .pt_wbase_pe(pt_wbase_pe),
        .r_idx(r_idx), .pt_wbeats(pt_wbeats), .pt_pbeats(pt_pbeats), .pt_prbeats(pt_prbeats), .pt_went(pt_went),
        .pt_k3(pt_k3), .pe_idx(pe_idx), .pt_k(pt_k), .pt_steps(pt_steps),
        .ep_idx(ep_idx), .pt_g(pt_g), .pt_woff(pt_woff), .pt_wblk0(pt_wblk0), .pt_cpass(pt_cpass),
        .log_we(log_we), .log_idx(log_idx), .log_data(log_data)
    );

    wire load_fin, wr_fin;
    wire [MPW:0] loaded_cnt, ep_done;
    wire mask_done, mask_fin;
    wire [UW-1:0] mask_tiles_next, e_done, e_out, c_done, c_ready, g_first, g_ready;
    wire g_over;  // the running layer's last gather has ended (a late early scan, docs/timing.md 4.5 E4 b)
    wire e_tile_end;
    // early scan (docs/timing.md 4.5): hand-over of a scan over before its layer starts, the running
    // layer's output rows, the unit's target and list halves
    wire h_known, has_next, l_par, outs_final, ms_next, ms_par;
    wire [UW-1:0] h_tiles;
    wire [CW:0] e_rows;
    wire [SLW-1:0] thr_slot_r;
    bnn_seq #(.MLW(MLW), .MPW(MPW), .UW(UW), .INBUF(INBUF), .NIW(NIW), .DLW(DLW)) u_seq (
        .clk(clk), .rst(rst), .start(start_all), .n_layers(g_n_layers), .load_fin(load_fin),
        .loaded_cnt(loaded_cnt), .wr_fin(wr_fin), .n_images(g_n_images), .cur_pool(f_pool), .w_left(w_left),
        .w_last(w_last), .cur_mask_en(f_mask), .cur_swap(f_swap),
        .nxt_tiles(nxt_tiles), .nxt_mask_en(nxt_mask_en && (SPARSE != 0)), .cur_first_pass(cur_first_pass),
        .cur_n_pass(cur_n_pass), .mask_done(mask_done), .mask_fin(mask_fin), .mask_tiles_next(mask_tiles_next),
        .e_tile_end(e_tile_end), .e_done(e_done), .e_out(e_out),
        .h_known(h_known), .h_tiles(h_tiles), .nxt_n_pass(nxt_n_pass),
        .has_next(has_next), .l_par(l_par), .outs_final(outs_final),
        .busy(busy), .done(done), .layer_active(layer_active), .layer_init(layer_init), .cl_idx(cl_idx),
        .cl_clear(cl_clear), .store_init(store_init), .in_set(in_set), .in_x(in_x), .first_l(first_l),
        .ep_done(ep_done), .run_end(run_end),
        .cycles(cycles), .log_we(log_we), .log_idx(log_idx), .log_data(log_data),
        .img_next(img_next), .dlog_we(dlog_we), .dlog_idx(dlog_idx), .dlog_data(dlog_data)
    );
    // image n's LOAD and STORE addresses: load_addr + n load_stride, store_addr + n store_stride (S1)
    reg [AXW-1:0] load_off, store_off;
    always @(posedge clk) begin
        if (rst || run_end) begin
            load_off <= 0;
            store_off <= 0;
        end else begin
            if (img_next) load_off <= load_off + g_load_stride;
            if (store_init) store_off <= store_off + g_store_stride;  // after the write DMA took it
        end
    end
    wire [AXW-1:0] img_load_addr = g_load_addr + load_off;
    wire [AXW-1:0] img_store_addr = g_store_addr + store_off;

    // ------------------------------------------------------------------ memories
    // residual buffer: LOAD or epilogue writes; epilogue or STORE reads
    // A layer without res_wr (model format version 2) leaves the residual buffer as it was: the
    // epilogue still writes the sign bits, not z (docs/architecture.md 1.1).
    wire d_res_we, e_res_we_z, e_res_we;
    assign e_res_we = e_res_we_z && f_res_wr;
    wire [RAW-1:0] d_res_waddr, e_res_waddr, e_res_raddr, s_res_raddr;
    wire [RESW-1:0] d_res_wdata, e_res_wdata, res_rdata;
    reg storing, st_pool;
    always @(posedge clk) begin
        if (rst || run_end) storing <= 1'b0;
        else if (store_init) storing <= 1'b1;
        else if (img_next) storing <= 1'b0;  // a map STORE has read every word (S2)
        // what the STORE reads: the layer registers clear when the next image of a stream begins
        if (rst) st_pool <= 1'b0;
        else if (store_init) st_pool <= f_pool;
    end
    // a pooled STORE reads the sum store, so the residual buffer stays the next image's (S3)
    wire res_st = storing && !st_pool;
    // With INBUF the LOAD writes the input residual buffer, which only layer 1's epilogue reads (its
    // residual), and, when layer 1 has an identity residual or leaves the residual buffer to a later
    // layer (a block residual), the residual buffer too, through the read
    // port, which nothing else uses then (layer 1 reads its residual from the input residual buffer,
    // the STORE comes after the LOAD): positions the mask unit skips keep x0 as layer 1's output.
    // The LOAD writes a position long before the epilogue writes it (the gather waited for its row).
    wire [RESW-1:0] res_q, e_res_rdata;
    generate
        if (INBUF != 0) begin : g_inres
            wire x_res_we = d_res_we && first_l && (f_resid || !f_res_wr);
            wire [RESW-1:0] xres_q;
            /* verilator lint_off UNUSEDSIGNAL */
            wire [RESW-1:0] res_qa;  // port A only writes
            /* verilator lint_on UNUSEDSIGNAL */
            bnn_ram_tdp #(.W(RESW), .AW(RAW), .DEPTH(RDEPTH)) u_res (
                .clk(clk), .we_a(e_res_we), .addr_a(e_res_waddr), .wdata_a(e_res_wdata), .rdata_a(res_qa),
                .we_b(x_res_we), .addr_b(x_res_we ? d_res_waddr : res_st ? s_res_raddr : e_res_raddr),
                .wdata_b(d_res_wdata), .rdata_b(res_q)
            );
            bnn_ram_sdp #(.W(RESW), .AW(RAW), .DEPTH(RDEPTH), .OUTREG(0)) u_xres (
                .clk(clk), .we(d_res_we), .waddr(d_res_waddr), .wdata(d_res_wdata), .raddr(e_res_raddr), .rdata(xres_q)
            );
            assign e_res_rdata = first_l ? xres_q : res_q;
        end else begin : g_noinres
            /* verilator lint_off UNUSEDSIGNAL */
            wire unused_x = &{1'b0, first_l};  // no input buffer: layer 1 reads the residual buffer
            /* verilator lint_on UNUSEDSIGNAL */
            bnn_ram_sdp #(.W(RESW), .AW(RAW), .DEPTH(RDEPTH), .OUTREG(0)) u_res (
                .clk(clk), .we(d_res_we || e_res_we), .waddr(d_res_we ? d_res_waddr : e_res_waddr),
                .wdata(d_res_we ? d_res_wdata : e_res_wdata), .raddr(res_st ? s_res_raddr : e_res_raddr),
                .rdata(res_q)
            );
            assign e_res_rdata = res_q;
        end
    endgenerate
    assign res_rdata = res_q;

    // activation bits
    wire [9*AAW-1:0] ga_addr, mb_addr;
    wire [9*BA-1:0] ga_data, mb_data;
    wire d_act_we, e_act_we, cp_en;
    wire [3:0] d_act_bank, e_act_bank, cp_bank;
    wire [AAW-1:0] d_act_addr, e_act_addr, cp_addr;
    wire [LW-1:0] d_act_lane, e_act_lane;
    wire [ROWS-1:0] d_act_data, e_act_data;
    wire [BA-1:0] cp_data;
    // A layer with a 2x2 max-pool (no predictor: the mask unit is idle) lends port B of the
    // activation sets to the epilogue, which reads the output set's old pooled words (bnn_maxpool.v).
    wire [AAW-1:0] ob_addr;
    wire [9*AAW-1:0] pb_addr = f_mpool ? {9{ob_addr}} : mb_addr;
    // With INBUF the LOAD's sign bits go to the input set instead of set 0.
    wire l_act_we = d_act_we && (INBUF == 0);
    bnn_act_sets #(
        .BA(BA), .ROWS(ROWS), .LANES(LANES), .LW(LW), .AAW(AAW), .ADEPTH(ADEPTH), .INBUF(INBUF)
    ) u_act (
        .clk(clk), .in_set(in_set), .in_x(in_x), .ga_addr(ga_addr), .ga_data(ga_data),
        .wx_en(d_act_we && (INBUF != 0)), .wx_bank(d_act_bank), .wx_addr(d_act_addr), .wx_lane(d_act_lane),
        .wx_data(d_act_data), .wx0_en(d_act_we && (INBUF != 0) && first_l && !f_res_wr),
        .wa_en(l_act_we || e_act_we), .wa_set(l_act_we ? 1'b0 : !in_set), .wa_bank(l_act_we ? d_act_bank : e_act_bank),
        .wa_addr(l_act_we ? d_act_addr : e_act_addr), .wa_lane(l_act_we ? d_act_lane : e_act_lane),
        .wa_data(l_act_we ? d_act_data : e_act_data),
        .mb_set(in_set ^ ms_next), .mb_x(in_x && !ms_next),
        .mb_addr(pb_addr), .mb_data(mb_data), .wb_en(cp_en), .wb_bank(cp_bank), .wb_addr(cp_addr), .wb_data(cp_data),
        .pb_out(f_mpool)
    );

    // weight/index ring: entry wbase + e, modulo 2^(WAW+1); read with output register (2 cycles)
    wire w_we;
    wire [WAW:0] w_waddr, w_raddr;
    wire [E_MEM-1:0] w_wdata, w_rdata;
    bnn_ram_sdp #(.W(E_MEM), .AW(WAW + 1), .DEPTH(2 << WAW), .OUTREG(1)) u_wmem (
        .clk(clk), .we(w_we), .waddr(w_waddr), .wdata(w_wdata), .raddr(w_raddr), .rdata(w_rdata)
    );
    // epilogue parameters: entry {blob slot, channel slot}
    wire p_we;
    wire [GW+SLW-1:0] p_waddr, p_raddr;
    wire [PW-1:0] p_wdata, p_rdata;
    bnn_lutram #(.W(PW), .AW(GW + SLW), .DEPTH(1 << (GW + SLW))) u_pmem (
        .clk(clk), .we(p_we), .waddr(p_waddr), .wdata(p_wdata), .raddr(p_raddr), .rdata(p_rdata)
    );
    // predictor: entry {blob slot, channel block}, and one threshold per blob slot
    wire pr_we, thr_we;
    wire [SLW-1:0] thr_slot;
    wire [NBW+SLW-1:0] pr_waddr, pr_raddr;
    wire [PRW-1:0] pr_wdata, pr_rdata;
    wire [31:0] thr_data, thr_q;
    bnn_lutram #(.W(32), .AW(SLW), .DEPTH(1 << SLW)) u_thr (
        .clk(clk), .we(thr_we), .waddr(thr_slot), .wdata(thr_data), .raddr(thr_slot_r), .rdata(thr_q)
    );

    // ------------------------------------------------------------------ DMA
    bnn_rd_dma #(
        .D(D), .BMAX(BMAX), .O_R(O_R), .ORW(ORW), .AXW(AXW), .BTW(BTW), .MPW(MPW), .BPR(BPR), .BPRW(BPRW),
        .RESW(RESW), .RAW(RAW), .ROWS(ROWS), .VB(VB), .LANES(LANES), .LW(LW), .AAW(AAW), .CW(CW), .NCW(NCW),
        .E_MEM(E_MEM), .WGR(WGR), .CB1(CB1), .CB3(CB3), .WFW(WFW), .WAW(WAW), .PW(PW), .PGR(PGR), .PFW(PFW),
        .GW(GW), .PRW(PRW), .PRGR(PRGR), .PRFW(PRFW), .NBW(NBW), .SLW(SLW), .SPARSE(SPARSE), .INBUF(INBUF),
        .STEM(STEM), .STEM_CH(STEM_CH), .STEM_H(STEM_H), .STEM_W(STEM_W), .STEM_S(STEM_S)
    ) u_rd (
        .clk(clk), .clr(rst || run_end || img_next), .start(start_all), .run(busy), .n_passes(g_n_passes),
        .load_addr(img_load_addr), .load_beats(g_load_beats), .load_h(g_load_h), .load_w(g_load_w),
        .load_nblk(g_load_nblk), .load_w3n(g_load_w3n), .load_nwo(g_load_nwo),
        .stem_off(g_stem_off), .stem_en(g_stem_en), .stem_prm_valid(stem_prm_valid), .stem_prm_data(stem_prm_data),
        .ar_pidx(ar_idx), .ar_paddr(pt_addr), .ar_pbeats(pt_beats), .ar_need(pt_need),
        .r_pidx(r_idx), .r_wbeats(pt_wbeats), .r_pbeats(pt_pbeats), .r_prbeats(pt_prbeats), .r_went(pt_went),
        .r_wbase(pt_wbase_r), .r_k3(pt_k3), .ep_done(ep_done), .loaded_cnt(loaded_cnt), .load_fin(load_fin),
        .rows_cnt(rows_cnt),
        .m_arvalid(m_axi_arvalid), .m_arready(m_axi_arready), .m_araddr(m_axi_araddr), .m_arlen(m_axi_arlen),
        .m_rvalid(m_axi_rvalid), .m_rready(m_axi_rready), .m_rdata(m_axi_rdata), .m_rlast(m_axi_rlast),
        .res_we(d_res_we), .res_waddr(d_res_waddr), .res_wdata(d_res_wdata),
        .act_we(d_act_we), .act_bank(d_act_bank), .act_addr(d_act_addr), .act_lane(d_act_lane), .act_data(d_act_data),
        .w_we(w_we), .w_addr(w_waddr), .w_data(w_wdata), .p_we(p_we), .p_addr(p_waddr), .p_data(p_wdata),
        .pr_we(pr_we), .pr_addr(pr_waddr), .pr_data(pr_wdata), .thr_we(thr_we), .thr_slot(thr_slot), .thr_data(thr_data)
    );

    // The STORE reads the residual buffer, or with the last layer's pool flag (latched at the STORE's
    // start: in a stream the next image's layers load theirs meanwhile) the sum store.
    wire [RESW-1:0] s_rdata;
    wire [PSAW-1:0] e_sum_addr;
    generate
        if (POOL != 0) begin : g_pool
            wire [RESW-1:0] sum_q;
            bnn_sumstore #(
                .ROWS(ROWS), .VB(VB), .PSB(PSB), .PSD(PSD), .PSAW(PSAW), .RESW(RESW), .RAW(RAW)
            ) u_sum (
                .clk(clk), .clear(layer_init), .we(e_res_we_z && f_pool), .waddr(e_sum_addr), .wdata(e_res_wdata),
                .raddr(s_res_raddr), .rdata(sum_q)
            );
            assign s_rdata = st_pool ? sum_q : res_rdata;
        end else begin : g_nopool
            /* verilator lint_off UNUSEDSIGNAL */
            wire unused_p = &{1'b0, f_pool, e_sum_addr};  // no sum store: the pool flag is never set
            /* verilator lint_on UNUSEDSIGNAL */
            assign s_rdata = res_rdata;
        end
    endgenerate

    bnn_wr_dma #(
        .D(D), .BMAX(BMAX), .O_W(O_W), .OWW(OWW), .AXW(AXW), .BTW(BTW), .BPR(BPR), .BPRW(BPRW), .RESW(RESW), .RAW(RAW)
    ) u_wr (
        .clk(clk), .rst(rst), .init(store_init), .store_addr(img_store_addr), .store_beats(g_store_beats),
        .store_words(g_store_words), .res_raddr(s_res_raddr), .res_rdata(s_rdata),
        .m_awvalid(m_axi_awvalid), .m_awready(m_axi_awready), .m_awaddr(m_axi_awaddr), .m_awlen(m_axi_awlen),
        .m_wvalid(m_axi_wvalid), .m_wready(m_axi_wready), .m_wdata(m_axi_wdata), .m_wlast(m_axi_wlast),
        .m_bvalid(m_axi_bvalid), .m_bready(m_axi_bready), .fin(wr_fin), .w_left(w_left), .w_last(w_last)
    );

    // ------------------------------------------------------------------ spatial mask unit and active list
    wire [PSW-1:0] list_cnt;
    wire [LAW-1:0] gl_raddr, el_raddr;
    wire [LINW-1:0] gl_rdata;
    wire [LOUTW-1:0] el_rdata;
    wire [CW:0] el_row;
    // EARLY: the list is double-buffered by layer parity (docs/timing.md 4.5, E6), one more address bit
    localparam LAX = (EARLY != 0) ? LAW + 1 : LAW;
    localparam LDX = (EARLY != 0) ? (2 << LAW) : LDEPTH;
    generate
        if (SPARSE != 0) begin : g_mask
            bnn_ram_sdp #(.W(PRW), .AW(NBW + SLW), .DEPTH(1 << (NBW + SLW)), .OUTREG(0)) u_prmem (
                .clk(clk), .we(pr_we), .waddr(pr_waddr), .wdata(pr_wdata), .raddr(pr_raddr), .rdata(pr_rdata)
            );
            wire list_we;
            wire [LAW-1:0] list_waddr;
            wire [LINW-1:0] list_win;
            wire [LOUTW-1:0] list_wout;
            wire [CW:0] list_wrow;
            bnn_mask_unit #(
                .BA(BA), .BAW(BAW), .AAW(AAW), .CW(CW), .NCW(NCW), .NBW(NBW), .RAW(RAW), .PSW(PSW), .LAW(LAW),
                .MPW(MPW), .COLS(COLS), .TW(UW), .LINW(LINW), .LOUTW(LOUTW), .SLW(SLW), .EARLY(EARLY)
            ) u_mask (
                .clk(clk), .rst(rst), .layer_init(layer_init), .layer_active(layer_active), .mask_en(f_mask), .copy_en(f_copy),
                .k3(f_k3), .loaded_cnt(loaded_cnt), .first_pass(cur_first_pass), .s2(f_s2),
                .in_x(in_x && (INBUF != 0)), .rows_cnt(rows_cnt),
                .h_in(cur_h_in), .w_in(cur_w_in), .h_out(cur_h_out), .w_out(cur_w_out),
                .nblk_in(cur_nblk_in), .w3n_in(cur_w3n_in), .nblk_out(cur_nblk_out), .w3n_out(cur_w3n_out),
                .nwo(cur_nwo), .positions(cur_positions), .cv_last(cur_cv_last),
                .threshold(thr_q), .thr_slot(thr_slot_r),
                .has_next(has_next), .nxt_early(nxt_early), .nxt_late(nxt_late), .g_over(g_over),
                .nxt_copy(nxt_copy), .nxt_k3(nxt_k3), .nxt_s2(nxt_s2),
                .nxt_h_in(nxt_h_in), .nxt_w_in(nxt_w_in), .nxt_h_out(nxt_h_out), .nxt_w_out(nxt_w_out),
                .nxt_nblk_in(nxt_nblk_in), .nxt_w3n_in(nxt_w3n_in), .nxt_nblk_out(nxt_nblk_out),
                .nxt_w3n_out(nxt_w3n_out), .nxt_nwo(nxt_nwo), .nxt_positions(nxt_positions),
                .nxt_cv_last(nxt_cv_last), .nxt_first_pass(nxt_first_pass), .l_par(l_par),
                .rows_o(e_rows), .rows_o_all(outs_final), .tgt_next(ms_next), .list_par(ms_par),
                .list_wrow(list_wrow),
                .pr_raddr(pr_raddr), .pr_rdata(pr_rdata), .mb_addr(mb_addr), .mb_data(mb_data),
                .cp_en(cp_en), .cp_bank(cp_bank), .cp_addr(cp_addr), .cp_data(cp_data),
                .list_we(list_we), .list_waddr(list_waddr), .list_win(list_win), .list_wout(list_wout),
                .list_cnt(list_cnt), .done(mask_done), .fin(mask_fin), .n_tiles_next(mask_tiles_next),
                .h_known(h_known), .h_tiles(h_tiles)
            );
            wire [LAX-1:0] lw_a, lg_a, le_a;
            if (EARLY != 0) begin : g_lpar
                assign lw_a = {ms_par, list_waddr};
                assign lg_a = {l_par, gl_raddr};
                assign le_a = {l_par, el_raddr};
                // rows complete after each listed position, for the epilogue's row counter (E7)
                bnn_ram_sdp #(.W(CW + 1), .AW(LAX), .DEPTH(LDX), .OUTREG(0)) u_list_row (
                    .clk(clk), .we(list_we), .waddr(lw_a), .wdata(list_wrow), .raddr(le_a), .rdata(el_row)
                );
            end else begin : g_nolpar
                /* verilator lint_off UNUSEDSIGNAL */
                wire unused_e = &{1'b0, ms_par, l_par, list_wrow};
                /* verilator lint_on UNUSEDSIGNAL */
                assign lw_a = list_waddr;
                assign lg_a = gl_raddr;
                assign le_a = el_raddr;
                assign el_row = {(CW + 1) {1'b0}};
            end
            bnn_ram_sdp #(.W(LINW), .AW(LAX), .DEPTH(LDX), .OUTREG(0)) u_list_in (
                .clk(clk), .we(list_we), .waddr(lw_a), .wdata(list_win), .raddr(lg_a), .rdata(gl_rdata)
            );
            bnn_ram_sdp #(.W(LOUTW), .AW(LAX), .DEPTH(LDX), .OUTREG(0)) u_list_out (
                .clk(clk), .we(list_we), .waddr(lw_a), .wdata(list_wout), .raddr(le_a), .rdata(el_rdata)
            );
        end else begin : g_nomask
            // dense baseline: no mask unit, no active list (every position active)
            /* verilator lint_off UNUSEDSIGNAL */
            // what would feed the mask unit and the list is left unconnected in the dense build
            wire unused_dense = &{1'b0, cur_cv_last, f_copy, mb_data, pr_we, pr_waddr, pr_wdata, thr_q,
                                  gl_raddr, el_raddr, pr_raddr, pr_rdata, has_next, l_par, outs_final, e_rows,
                                  nxt_early, nxt_late, g_over, nxt_k3, nxt_s2, nxt_copy, nxt_h_in, nxt_w_in,
                                  nxt_h_out, nxt_w_out,
                                  nxt_nblk_in, nxt_w3n_in, nxt_nblk_out, nxt_w3n_out, nxt_nwo, nxt_positions,
                                  nxt_cv_last, nxt_first_pass, ms_par};
            /* verilator lint_on UNUSEDSIGNAL */
            assign pr_raddr = {(NBW + SLW) {1'b0}};
            assign pr_rdata = {PRW{1'b0}};
            assign mb_addr = {(9 * AAW) {1'b0}};
            assign cp_en = 1'b0;
            assign cp_bank = 4'd0;
            assign cp_addr = {AAW{1'b0}};
            assign cp_data = {BA{1'b0}};
            assign list_cnt = {PSW{1'b0}};
            assign mask_done = 1'b0;
            assign mask_fin = 1'b0;
            assign mask_tiles_next = {UW{1'b0}};
            assign h_known = 1'b0;
            assign h_tiles = {UW{1'b0}};
            assign ms_next = 1'b0;
            assign ms_par = 1'b0;
            assign thr_slot_r = cur_first_pass[SLW-1:0];
            assign el_row = {(CW + 1) {1'b0}};
            assign gl_rdata = {LINW{1'b0}};
            assign el_rdata = {LOUTW{1'b0}};
        end
    endgenerate

    // ------------------------------------------------------------------ gather, window buffers, PE array
    // T3: split tiles in a layer whose kernel size has an even number of steps per weight entry
    wire split_en = (SPLIT != 0) && (f_k3 ? (M3 % 2 == 0) : (M1 % 2 == 0));
    wire wb_we, wb_dup, wb_buf;
    wire [CLW-1:0] wb_col;
    wire [NBW-1:0] wb_blk;
    wire [9*BA-1:0] wb_data;
    wire [8:0] wb_mask;
    wire [3:0] wb_rot;
    wire [2:0] pe_rec, ep_rec;
    wire [MPW-1:0] pe_rec_gp, ep_rec_gp;
    wire [LAW-1:0] ep_rec_tb;
    wire [CLW:0] pe_rec_nt, ep_rec_nt;
    bnn_gather #(
        .COLS(COLS), .CLW(CLW), .BA(BA), .AAW(AAW), .CW(CW), .NCW(NCW), .NBW(NBW), .RAW(RAW), .PSW(PSW),
        .LAW(LAW), .MPW(MPW), .UW(UW), .LINW(LINW), .SPLIT(SPLIT)
    ) u_gather (
        .clk(clk), .layer_init(layer_init), .layer_active(layer_active), .mask_en(f_mask), .k3(f_k3), .split_en(split_en), .s2(f_s2),
        .in_x(in_x && (INBUF != 0)), .rows_cnt(rows_cnt), .h_in(cur_h_in), .w_in(cur_w_in), .h_out(cur_h_out), .w_out(cur_w_out), .nblk_in(cur_nblk_in),
        .w3n_in(cur_w3n_in), .positions(cur_positions), .n_pass(cur_n_pass), .first_pass(cur_first_pass),
        .list_cnt(list_cnt), .mask_done(mask_done), .c_done(c_done), .list_raddr(gl_raddr), .list_rdata(gl_rdata),
        .ga_addr(ga_addr), .ga_data(ga_data), .wb_we(wb_we), .wb_dup(wb_dup), .wb_col(wb_col), .wb_buf(wb_buf), .wb_blk(wb_blk),
        .wb_data(wb_data), .wb_mask(wb_mask), .wb_rot(wb_rot), .g_first(g_first), .g_ready(g_ready),
        .g_over(g_over), .rec_idx_a(pe_rec), .rec_gp_a(pe_rec_gp), .rec_nt_a(pe_rec_nt), .rec_idx_b(ep_rec), .rec_gp_b(ep_rec_gp), .rec_tb_b(ep_rec_tb),
        .rec_nt_b(ep_rec_nt)
    );

    wire wb_rbuf;
    wire [NBW-1:0] wb_rblk;
    wire [BIW-1:0] wb_rbit;
    wire [9*COLS-1:0] win, msk;
    wire [NBW-1:0] wb_rblk_b;
    wire [BIW-1:0] wb_rbit_b;
    bnn_winbuf #(.COLS(COLS), .CLW(CLW), .BA(BA), .BIW(BIW), .NBW(NBW), .SPLIT(SPLIT)) u_winbuf (
        .clk(clk), .we(wb_we), .wdup(wb_dup), .wcol(wb_col), .wbuf(wb_buf), .wblk(wb_blk), .wdata(wb_data),
        .wmask(wb_mask), .wrot(wb_rot), .rbuf(wb_rbuf), .rblk(wb_rblk), .rbit(wb_rbit), .rblk_b(wb_rblk_b),
        .rbit_b(wb_rbit_b), .win(win), .msk(msk)
    );

    wire p2_v, p2_vb, p2_split, p2_bank, p2_first, p2_last;
    wire [MW-1:0] p2_sub, p2_sub_b;
    wire [GW-1:0] p2_j, p2_j_b;
    bnn_pe_ctl #(
        .MPW(MPW), .UW(UW), .CLW(CLW), .SW(SW), .GW(GW), .BA(BA), .BIW(BIW), .NBW(NBW), .WAW(WAW), .MW(MW), .M1(M1), .M3(M3),
        .COLS(COLS), .SPLIT(SPLIT)
    ) u_pe_ctl (
        .clk(clk), .layer_init(layer_init), .layer_active(layer_active), .k3(f_k3), .split_en(split_en),
        .g_first(g_first), .g_ready(g_ready), .e_done(e_done), .loaded_cnt(loaded_cnt), .rec_idx(pe_rec), .rec_gp(pe_rec_gp),
        .rec_nt(pe_rec_nt), .pidx(pe_idx),
        .p_k(pt_k), .p_steps(pt_steps), .p_wbase(pt_wbase_pe), .w_raddr(w_raddr), .wb_rbuf(wb_rbuf), .wb_rblk(wb_rblk), .wb_rbit(wb_rbit),
        .wb_rblk_b(wb_rblk_b), .wb_rbit_b(wb_rbit_b),
        .p2_v(p2_v), .p2_sub(p2_sub), .p2_j(p2_j), .p2_vb(p2_vb), .p2_sub_b(p2_sub_b), .p2_j_b(p2_j_b),
        .p2_split(p2_split), .p2_bank(p2_bank), .p2_first(p2_first), .p2_last(p2_last),
        .c_done(c_done)
    );

    wire e_bank;
    wire [GW-1:0] e_slot;
    wire [CLW-1:0] e_col;
    wire [ROWS*ACC_W-1:0] e_dot;
    bnn_pe_array #(
        .ROWS(ROWS), .COLS(COLS), .CLW(CLW), .GW(GW), .ACC_W(ACC_W), .ACC_S(ACC_S), .IB(IB), .SPARSE(SPARSE),
        .E_MEM(E_MEM), .MW(MW), .M1(M1), .M3(M3), .UW(UW), .SPLIT(SPLIT)
    ) u_pe (
        .clk(clk), .layer_init(layer_init), .k3(f_k3), .p2_v(p2_v), .p2_sub(p2_sub), .p2_j(p2_j),
        .p2_vb(p2_vb), .p2_sub_b(p2_sub_b), .p2_j_b(p2_j_b), .p2_split(p2_split),
        .p2_bank(p2_bank), .p2_first(p2_first), .p2_last(p2_last), .wentry(w_rdata), .win(win), .msk(msk),
        .e_bank(e_bank), .e_slot(e_slot), .e_col(e_col), .e_dot(e_dot), .c_ready(c_ready)
    );

    // ------------------------------------------------------------------ epilogue
    bnn_epilogue #(
        .ROWS(ROWS), .CLW(CLW), .GW(GW), .ACC_W(ACC_W), .MB(MB), .BB(BB), .VB(VB), .RAW(RAW),
        .AAW(AAW), .CW(CW), .NCW(NCW), .LANES(LANES), .LW(LW), .LAW(LAW), .MPW(MPW), .UW(UW),
        .LOUTW(LOUTW), .CPW(CPW), .SLW(SLW), .PSAW(PSAW)
    ) u_epi (
        .clk(clk), .layer_init(layer_init), .layer_active(layer_active), .mask_en(f_mask), .resid(f_resid), .mpool(f_mpool),
        .shift(cur_shift), .h_out(cur_h_out), .w_out(cur_w_out), .nblk_out(cur_nblk_out), .w3n_out(cur_w3n_out),
        .nwo(cur_nwo), .c_ready(c_ready), .rec_idx(ep_rec), .rec_gp(ep_rec_gp), .rec_tb(ep_rec_tb),
        .rec_nt(ep_rec_nt), .pidx(ep_idx), .p_g(pt_g), .p_woff(pt_woff), .p_wblk0(pt_wblk0), .p_cpass(pt_cpass),
        .e_bank(e_bank), .e_slot(e_slot), .e_col(e_col), .e_dot(e_dot), .prm_raddr(p_raddr), .prm_rdata(p_rdata),
        .list_raddr(el_raddr), .list_rdata(el_rdata), .res_raddr(e_res_raddr), .res_rdata(e_res_rdata),
        .res_we(e_res_we_z), .res_waddr(e_res_waddr), .res_wdata(e_res_wdata), .sum_addr(e_sum_addr),
        .act_we(e_act_we), .act_bank(e_act_bank), .act_addr(e_act_addr), .act_lane(e_act_lane), .act_data(e_act_data),
        .ob_addr(ob_addr), .ob_data(mb_data),
        .e_done(e_done), .e_out(e_out), .tile_end(e_tile_end),
        // a full tile of the layer's last pass counts rows for an early scan of the next layer (4.5, E7)
        .row_q(({1'b0, ep_rec_gp} + 1'b1 == {1'b0, cur_first_pass} + cur_n_pass) && (ep_rec_nt == COLS[CLW:0])),
        .list_row(el_row), .out_rows(e_rows)
    );
endmodule
`default_nettype wire

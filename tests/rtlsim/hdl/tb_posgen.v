// Test wrapper: the raster position generator feeding the window address unit.
`default_nettype none
module tb_posgen #(
    parameter CW = 8,
    parameter AAW = 10,
    parameter RAW = 12,
    parameter NCW = 4
) (
    input wire clk,
    input wire init,
    input wire adv,
    input wire s2,
    input wire k3,
    input wire [CW-1:0] h_in,
    input wire [CW-1:0] w_in,
    input wire [CW-1:0] h_out,
    input wire [CW-1:0] w_out,
    input wire [NCW-1:0] nblk_in,
    input wire [AAW-1:0] w3n_in,
    input wire [NCW-1:0] nblk_out,
    input wire [AAW-1:0] w3n_out,
    input wire [RAW-1:0] nwo,
    input wire [NCW-1:0] blk,
    output wire [CW-1:0] yc,
    output wire [CW-1:0] xc,
    output wire [1:0] ycm,
    output wire [1:0] xcm,
    output wire [AAW-1:0] ibase,
    output wire [RAW-1:0] rbase,
    output wire [3:0] obank,
    output wire [AAW-1:0] obase,
    output wire [9*AAW-1:0] addr,
    output wire [8:0] valid
);
    bnn_pos_gen #(.CW(CW), .AAW(AAW), .RAW(RAW), .NCW(NCW)) u_pg (
        .clk(clk), .init(init), .adv(adv), .s2(s2), .h_out(h_out), .w_out(w_out), .nblk_in(nblk_in),
        .w3n_in(w3n_in), .nblk_out(nblk_out), .w3n_out(w3n_out), .nwo(nwo), .yc(yc), .xc(xc), .ycm(ycm),
        .xcm(xcm), .ibase(ibase), .rbase(rbase), .obank(obank), .obase(obase)
    );
    bnn_win_addr #(.AAW(AAW), .CW(CW), .NCW(NCW)) u_wa (
        .yc(yc), .xc(xc), .ym(ycm), .xm(xcm), .ibase(ibase), .blk(blk), .h_in(h_in), .w_in(w_in),
        .w3n(w3n_in), .nblk(nblk_in), .k3(k3), .addr(addr), .valid(valid)
    );
endmodule
`default_nettype wire
